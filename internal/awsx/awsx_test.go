package awsx_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func TestS3AgainstEndpoint(t *testing.T) {
	ctx := context.Background()
	cfg, e := localawstest.ConfigForTest(t, "eu-west-1")
	client := awsx.S3Client(cfg, e.URL())
	_, err := client.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket: aws.String("awsx-test"),
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{
			LocationConstraint: s3types.BucketLocationConstraintEuWest1,
		},
	})
	if err != nil {
		t.Fatalf("CreateBucket through the endpoint: %v", err)
	}
	out, err := client.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Buckets) != 1 || aws.ToString(out.Buckets[0].Name) != "awsx-test" {
		t.Fatalf("buckets = %+v, want [awsx-test]", out.Buckets)
	}
}

func TestRegionRequired(t *testing.T) {
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	t.Setenv("AWS_CONFIG_FILE", "/nonexistent")
	if _, err := awsx.Config(context.Background(), "", "http://127.0.0.1:1"); err == nil {
		t.Fatal("Config without a region: want an error")
	}
}
