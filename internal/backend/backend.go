// Package backend creates and deletes the S3 bucket that holds Terraform's
// state: the one resource kforge creates itself, because it must exist before
// `terraform init` can use it.
package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/wait"
)

// DefaultBucketName is the state bucket used when the configuration names
// none: one per account and region, shared by the environments there (each
// has its own key).
func DefaultBucketName(ctx context.Context, cfg aws.Config, region string) (string, error) {
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		return "", fmt.Errorf("finding the AWS account for the default state bucket name (STS GetCallerIdentity): %w", err)
	}
	return fmt.Sprintf("kforge-state-%s-%s", aws.ToString(id.Account), region), nil
}

// Options describes the state bucket.
type Options struct {
	Bucket string
	Region string
	// Emulated leaves out the TLS-only bucket policy: the emulator evaluates
	// every policy condition as unmet, so that Deny would block all access.
	Emulated bool
	// Tags are put on the bucket (kforge.io/cluster, kforge.io/environment...).
	Tags map[string]string
}

// Result says what Ensure did.
type Result struct {
	Bucket  string   `json:"bucket"`
	Created bool     `json:"created"`
	Applied []string `json:"applied"`
	// Notes are caveats to show the user (for example the policy left out).
	Notes []string `json:"notes,omitempty"`
}

// Ensure creates the state bucket if it is missing and (re)applies its
// settings: versioning, default encryption, all four public-access blocks,
// bucket-owner-enforced ownership, tags and, except on an emulator, a policy
// denying requests without TLS. Running it again changes nothing.
//
// Default encryption is SSE-S3 (AES256), not SSE-KMS with the AWS-managed
// key: the state holds no secret (a project rule), SSE-S3 costs no KMS
// request per state read and write, and anyone who can read the bucket could
// use aws/s3 anyway, so the managed key adds no access boundary. Access is
// limited by IAM, the public-access blocks and the TLS-only policy.
func Ensure(ctx context.Context, client *s3.Client, opts Options) (*Result, error) {
	res := &Result{Bucket: opts.Bucket}
	exists, err := bucketExists(ctx, client, opts.Bucket)
	if err != nil {
		return nil, err
	}
	if !exists {
		in := &s3.CreateBucketInput{
			Bucket:          aws.String(opts.Bucket),
			ObjectOwnership: s3types.ObjectOwnershipBucketOwnerEnforced,
		}
		if opts.Region != "us-east-1" {
			in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{
				LocationConstraint: s3types.BucketLocationConstraint(opts.Region),
			}
		}
		if _, err := client.CreateBucket(ctx, in); err != nil {
			var owned *s3types.BucketAlreadyOwnedByYou
			if !errors.As(err, &owned) {
				return nil, fmt.Errorf("creating state bucket %s: %w", opts.Bucket, err)
			}
		} else {
			res.Created = true
		}
	}

	steps := []struct {
		name string
		run  func() error
	}{
		{"versioning", func() error {
			_, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  aws.String(opts.Bucket),
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
			})
			return err
		}},
		{"default encryption (AES256)", func() error {
			_, err := client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
				Bucket: aws.String(opts.Bucket),
				ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
					Rules: []s3types.ServerSideEncryptionRule{{
						ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{
							SSEAlgorithm: s3types.ServerSideEncryptionAes256,
						},
					}},
				},
			})
			return err
		}},
		{"public access block", func() error {
			_, err := client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
				Bucket: aws.String(opts.Bucket),
				PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
					BlockPublicAcls:       aws.Bool(true),
					IgnorePublicAcls:      aws.Bool(true),
					BlockPublicPolicy:     aws.Bool(true),
					RestrictPublicBuckets: aws.Bool(true),
				},
			})
			return err
		}},
		{"ownership controls", func() error {
			_, err := client.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{
				Bucket: aws.String(opts.Bucket),
				OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{
					ObjectOwnership: s3types.ObjectOwnershipBucketOwnerEnforced,
				}}},
			})
			return err
		}},
		{"tags", func() error {
			if len(opts.Tags) == 0 {
				return nil
			}
			_, err := client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{
				Bucket:  aws.String(opts.Bucket),
				Tagging: &s3types.Tagging{TagSet: tagSet(opts.Tags)},
			})
			return err
		}},
	}
	if opts.Emulated {
		res.Notes = append(res.Notes, "TLS-only bucket policy left out: the emulator treats every policy condition as unmet, so it would deny all access (it is applied on AWS)")
	} else {
		steps = append(steps, struct {
			name string
			run  func() error
		}{"TLS-only bucket policy", func() error {
			_, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{
				Bucket: aws.String(opts.Bucket),
				Policy: aws.String(TLSOnlyPolicy(opts.Region, opts.Bucket)),
			})
			return err
		}})
	}
	for _, s := range steps {
		err := s.run()
		// Bucket configuration is eventually consistent: right after
		// CreateBucket a request can still answer NoSuchBucket (the AWS
		// provider retries it for the same reason).
		for delay, waited := time.Second, time.Duration(0); err != nil && res.Created && isNoSuchBucket(err) && waited < newBucketPropagation; delay = min(2*delay, 8*time.Second) {
			if werr := wait.Sleep(ctx, delay); werr != nil {
				return nil, werr
			}
			waited += delay
			err = s.run()
		}
		if err != nil {
			return nil, fmt.Errorf("state bucket %s: setting %s: %w", opts.Bucket, s.name, err)
		}
		res.Applied = append(res.Applied, s.name)
	}
	return res, nil
}

// newBucketPropagation bounds how long a new bucket may answer NoSuchBucket.
const newBucketPropagation = 2 * time.Minute

func isNoSuchBucket(err error) bool {
	var nsb *s3types.NoSuchBucket
	var api smithy.APIError
	return errors.As(err, &nsb) || errors.As(err, &api) && api.ErrorCode() == "NoSuchBucket"
}

// TLSOnlyPolicy denies every request to the bucket that does not use TLS.
// Its resources are ARNs of region's partition: S3 refuses a policy naming
// arn:aws: resources in GovCloud.
func TLSOnlyPolicy(region, bucket string) string {
	arn := awsx.BucketARN(region, bucket)
	policy := map[string]any{
		"Version": "2012-10-17",
		"Statement": []any{map[string]any{
			"Sid":       "DenyInsecureTransport",
			"Effect":    "Deny",
			"Principal": "*",
			"Action":    "s3:*",
			"Resource": []string{
				arn,
				arn + "/*",
			},
			"Condition": map[string]any{"Bool": map[string]string{"aws:SecureTransport": "false"}},
		}},
	}
	data, _ := json.MarshalIndent(policy, "", "  ")
	return string(data)
}

func tagSet(tags map[string]string) []s3types.Tag {
	keys := slices.Sorted(maps.Keys(tags))
	out := make([]s3types.Tag, 0, len(keys))
	for _, k := range keys {
		out = append(out, s3types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	return out
}

// Exists reports whether the bucket exists (and is reachable).
func Exists(ctx context.Context, client *s3.Client, bucket string) (bool, error) {
	return bucketExists(ctx, client, bucket)
}

func bucketExists(ctx context.Context, client *s3.Client, bucket string) (bool, error) {
	_, err := client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return true, nil
	}
	var nf *s3types.NotFound
	var api smithy.APIError
	if errors.As(err, &nf) || isNoSuchBucket(err) || errors.As(err, &api) && api.ErrorCode() == "NotFound" {
		return false, nil
	}
	if errors.As(err, &api) && api.ErrorCode() == "Forbidden" {
		return false, fmt.Errorf("state bucket %s exists but belongs to another account or denies access; choose another name under state.bucket", bucket)
	}
	return false, fmt.Errorf("checking state bucket %s: %w", bucket, err)
}

// PurgeResult is what PurgeState did.
type PurgeResult struct {
	// Versions of the state object and its lock file deleted.
	Versions int
	// BucketDeleted: nothing else was in the bucket, so it went too.
	BucketDeleted bool
	// Others are keys of other objects that keep the bucket (at most five):
	// the default bucket holds every environment's state of the account
	// and region.
	Others []string
}

// PurgeState deletes every version of one environment's state object and
// of its lock file (<key>.tflock), then the bucket when nothing else is in
// it. Other environments' state in the same bucket is never touched. A
// missing bucket is not an error.
func PurgeState(ctx context.Context, client *s3.Client, bucket, key string) (PurgeResult, error) {
	var res PurgeResult
	exists, err := bucketExists(ctx, client, bucket)
	if err != nil || !exists {
		return res, err
	}
	res.Versions, err = awsx.DeleteVersions(ctx, client, bucket, key, func(k string) bool { return k == key || k == key+".tflock" })
	if err != nil {
		return res, err
	}
	left, err := client.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(5)})
	if err != nil {
		return res, fmt.Errorf("listing what is left in state bucket %s: %w", bucket, err)
	}
	other := func(k *string) {
		if key := aws.ToString(k); !slices.Contains(res.Others, key) {
			res.Others = append(res.Others, key)
		}
	}
	for _, v := range left.Versions {
		other(v.Key)
	}
	for _, m := range left.DeleteMarkers {
		other(m.Key)
	}
	if len(res.Others) > 0 {
		return res, nil
	}
	if _, err := client.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return res, fmt.Errorf("deleting state bucket %s: %w", bucket, err)
	}
	res.BucketDeleted = true
	return res, nil
}
