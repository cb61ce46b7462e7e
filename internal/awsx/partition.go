package awsx

import "strings"

// Partition returns the ARN partition of region: aws-us-gov for the
// GovCloud (US) regions, aws-cn for the China regions, aws otherwise. A
// policy or ARN built with the wrong one is refused (MalformedPolicy) or
// names nothing.
func Partition(region string) string {
	switch {
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	}
	return "aws"
}

// BucketARN is the ARN of an S3 bucket in region's partition.
func BucketARN(region, bucket string) string {
	return "arn:" + Partition(region) + ":s3:::" + bucket
}
