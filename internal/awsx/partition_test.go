package awsx

import "testing"

func TestPartition(t *testing.T) {
	for region, want := range map[string]string{
		"us-east-1": "aws", "eu-west-1": "aws", "us-gov-west-1": "aws-us-gov",
		"us-gov-east-1": "aws-us-gov", "cn-north-1": "aws-cn",
	} {
		if got := Partition(region); got != want {
			t.Errorf("Partition(%s) = %s, want %s", region, got, want)
		}
	}
	if got := BucketARN("us-gov-west-1", "b1"); got != "arn:aws-us-gov:s3:::b1" {
		t.Errorf("BucketARN = %s", got)
	}
}
