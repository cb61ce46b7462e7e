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
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
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
	if isCode(err, "InvalidClientTokenId") {
		// STS answers so both to unknown keys and in an opt-in region the
		// account has not enabled, whose endpoint does not know it.
		return "", fmt.Errorf("finding the AWS account for the default state bucket name (STS GetCallerIdentity in %s): the credentials are not valid there: check them (aws sts get-caller-identity), and if %s is an opt-in region, enable it for the account (AWS console, Account, AWS Regions): %w", cfg.Region, cfg.Region, err)
	}
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
	Bucket  string `json:"bucket"`
	Created bool   `json:"created"`
	// Applied are the settings the bucket has now, Changed those Ensure
	// had to write (all of them on a new bucket, none on one already set).
	Applied []string `json:"applied"`
	Changed []string `json:"changed"`
	// Notes are caveats to show the user (for example the policy left out).
	Notes []string `json:"notes,omitempty"`
}

// setting is one property of the state bucket: held reports whether the
// bucket already has it, apply writes it.
type setting struct {
	name  string
	held  func() (bool, error)
	apply func() error
}

// Ensure creates the state bucket if it is missing and gives it its
// settings: versioning, default encryption, all four public-access blocks,
// bucket-owner-enforced ownership, kforge's tags and, except on an
// emulator, a statement denying requests without TLS. On a bucket that
// exists, each setting is read first and written only where it is missing,
// so a run against a bucket already set writes nothing (a read-only role
// can plan), and what others put on a bucket they share stays: their tags,
// their policy's statements, a default encryption of their own.
//
// A new bucket's default encryption is SSE-S3 (AES256), not SSE-KMS with
// the AWS-managed key: the state holds no secret (a project rule), SSE-S3
// costs no KMS request per state read and write, and anyone who can read
// the bucket could use aws/s3 anyway, so the managed key adds no access
// boundary. Access is limited by IAM, the public-access blocks and the
// TLS-only statement.
func Ensure(ctx context.Context, client *s3.Client, opts Options) (*Result, error) {
	res := &Result{Bucket: opts.Bucket}
	exists, err := bucketExists(ctx, client, opts.Bucket)
	if err != nil {
		return nil, err
	}
	if !exists {
		if err := createBucket(ctx, client, opts); err != nil {
			var owned *s3types.BucketAlreadyOwnedByYou
			if !errors.As(err, &owned) {
				return nil, fmt.Errorf("creating state bucket %s: %w", opts.Bucket, err)
			}
		} else {
			res.Created = true
		}
	}
	steps := settings(ctx, client, opts)
	if opts.Emulated {
		res.Notes = append(res.Notes, "TLS-only bucket policy left out: the emulator treats every policy condition as unmet, so it would deny all access (it is applied on AWS)")
		steps = steps[:len(steps)-1]
	}
	for _, s := range steps {
		if !res.Created {
			held, err := s.held()
			if err != nil {
				return nil, fmt.Errorf("state bucket %s: reading %s: %w", opts.Bucket, s.name, err)
			}
			if held {
				res.Applied = append(res.Applied, s.name)
				continue
			}
		}
		if err := retryNewBucket(ctx, res.Created, s.apply); err != nil {
			return nil, fmt.Errorf("state bucket %s: setting %s: %w", opts.Bucket, s.name, err)
		}
		res.Applied = append(res.Applied, s.name)
		res.Changed = append(res.Changed, s.name)
	}
	return res, nil
}

// createBucket creates the bucket in its region, retrying while S3 still
// finishes an earlier operation on that name (a bucket just deleted by
// down --purge-state answers OperationAborted for a while).
func createBucket(ctx context.Context, client *s3.Client, opts Options) error {
	in := &s3.CreateBucketInput{
		Bucket:          aws.String(opts.Bucket),
		ObjectOwnership: s3types.ObjectOwnershipBucketOwnerEnforced,
	}
	if opts.Region != "us-east-1" {
		in.CreateBucketConfiguration = &s3types.CreateBucketConfiguration{
			LocationConstraint: s3types.BucketLocationConstraint(opts.Region),
		}
	}
	return retryNewBucket(ctx, false, func() error {
		_, err := client.CreateBucket(ctx, in)
		return err
	})
}

// retryNewBucket runs fn, again while S3 answers OperationAborted (another
// operation on the bucket is in progress) or, on a bucket just created,
// NoSuchBucket: bucket configuration is eventually consistent, and the AWS
// provider retries both for the same reasons.
func retryNewBucket(ctx context.Context, created bool, fn func() error) error {
	err := fn()
	for delay, waited := time.Second, time.Duration(0); err != nil && (isOperationAborted(err) || created && isNoSuchBucket(err)) && waited < newBucketPropagation; delay = min(2*delay, 8*time.Second) {
		if werr := wait.Sleep(ctx, delay); werr != nil {
			return werr
		}
		waited += delay
		err = fn()
	}
	return err
}

// settings are the state bucket's settings, the TLS-only statement last.
func settings(ctx context.Context, client *s3.Client, opts Options) []setting {
	b := aws.String(opts.Bucket)
	return []setting{
		{"versioning", func() (bool, error) {
			out, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
			return err == nil && out.Status == s3types.BucketVersioningStatusEnabled, err
		}, func() error {
			_, err := client.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{
				Bucket:                  b,
				VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled},
			})
			return err
		}},
		{"default encryption (AES256)", func() (bool, error) {
			out, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
			if isCode(err, "ServerSideEncryptionConfigurationNotFoundError") {
				return false, nil
			}
			// Any default encryption will do: SSE-S3 or a key of the owner's.
			return err == nil && out.ServerSideEncryptionConfiguration != nil && len(out.ServerSideEncryptionConfiguration.Rules) > 0, err
		}, func() error {
			_, err := client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{
				Bucket: b,
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
		{"public access block", func() (bool, error) {
			out, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
			if isCode(err, "NoSuchPublicAccessBlockConfiguration") {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			c := out.PublicAccessBlockConfiguration
			return c != nil && aws.ToBool(c.BlockPublicAcls) && aws.ToBool(c.IgnorePublicAcls) && aws.ToBool(c.BlockPublicPolicy) && aws.ToBool(c.RestrictPublicBuckets), nil
		}, func() error {
			_, err := client.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{
				Bucket: b,
				PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
					BlockPublicAcls:       aws.Bool(true),
					IgnorePublicAcls:      aws.Bool(true),
					BlockPublicPolicy:     aws.Bool(true),
					RestrictPublicBuckets: aws.Bool(true),
				},
			})
			return err
		}},
		{"ownership controls", func() (bool, error) {
			out, err := client.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b})
			if isCode(err, "OwnershipControlsNotFoundError") {
				return false, nil
			}
			if err != nil {
				return false, err
			}
			return out.OwnershipControls != nil && len(out.OwnershipControls.Rules) == 1 &&
				out.OwnershipControls.Rules[0].ObjectOwnership == s3types.ObjectOwnershipBucketOwnerEnforced, nil
		}, func() error {
			_, err := client.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{
				Bucket: b,
				OwnershipControls: &s3types.OwnershipControls{Rules: []s3types.OwnershipControlsRule{{
					ObjectOwnership: s3types.ObjectOwnershipBucketOwnerEnforced,
				}}},
			})
			return err
		}},
		{"tags", func() (bool, error) {
			have, err := bucketTags(ctx, client, opts.Bucket)
			if err != nil {
				return false, err
			}
			for k, v := range opts.Tags {
				if got, ok := have[k]; !ok || got != v {
					return false, nil
				}
			}
			return true, nil
		}, func() error {
			// PutBucketTagging replaces the whole set: keep the others'.
			have, err := bucketTags(ctx, client, opts.Bucket)
			if err != nil {
				return err
			}
			maps.Copy(have, opts.Tags)
			_, err = client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &s3types.Tagging{TagSet: tagSet(have)}})
			return err
		}},
		{"TLS-only bucket policy", func() (bool, error) {
			doc, err := bucketPolicy(ctx, client, opts.Bucket)
			return err == nil && hasTLSOnlyStatement(doc, opts.Region, opts.Bucket), err
		}, func() error {
			// PutBucketPolicy replaces the whole policy: keep the others'
			// statements.
			doc, err := bucketPolicy(ctx, client, opts.Bucket)
			if err != nil {
				return err
			}
			merged, err := withTLSOnlyStatement(doc, opts.Region, opts.Bucket)
			if err != nil {
				return err
			}
			_, err = client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(merged)})
			return err
		}},
	}
}

// newBucketPropagation bounds how long a new bucket may answer NoSuchBucket.
const newBucketPropagation = 2 * time.Minute

func isNoSuchBucket(err error) bool {
	var nsb *s3types.NoSuchBucket
	return errors.As(err, &nsb) || isCode(err, "NoSuchBucket")
}

func isOperationAborted(err error) bool { return isCode(err, "OperationAborted") }

// isCode reports whether err is an AWS API error with that code.
func isCode(err error, code string) bool {
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == code
}

// bucketTags are the bucket's tags; none when it has no tag set.
func bucketTags(ctx context.Context, client *s3.Client, bucket string) (map[string]string, error) {
	out, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if isCode(err, "NoSuchTagSet") {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, err
	}
	tags := map[string]string{}
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// bucketPolicy is the bucket's policy document; "" when it has none.
func bucketPolicy(ctx context.Context, client *s3.Client, bucket string) (string, error) {
	out, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(bucket)})
	if isCode(err, "NoSuchBucketPolicy") {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	return aws.ToString(out.Policy), nil
}

// tlsOnlySid names kforge's statement in the state bucket's policy.
const tlsOnlySid = "DenyInsecureTransport"

// tlsOnlyStatement denies every request to the bucket that does not use
// TLS. Its resources are ARNs of region's partition: S3 refuses a policy
// naming arn:aws: resources in GovCloud.
func tlsOnlyStatement(region, bucket string) map[string]any {
	arn := awsx.BucketARN(region, bucket)
	return map[string]any{
		"Sid":       tlsOnlySid,
		"Effect":    "Deny",
		"Principal": "*",
		"Action":    "s3:*",
		"Resource":  []string{arn, arn + "/*"},
		"Condition": map[string]any{"Bool": map[string]string{"aws:SecureTransport": "false"}},
	}
}

// TLSOnlyPolicy is a policy of the TLS-only statement alone: a new state
// bucket's.
func TLSOnlyPolicy(region, bucket string) string {
	data, _ := json.MarshalIndent(map[string]any{
		"Version":   "2012-10-17",
		"Statement": []any{tlsOnlyStatement(region, bucket)},
	}, "", "  ")
	return string(data)
}

// policyStatements parses a policy document's statements ("" has none; a
// single statement may stand without a list).
func policyStatements(doc string) (map[string]any, []any, error) {
	if doc == "" {
		return map[string]any{"Version": "2012-10-17"}, nil, nil
	}
	var policy map[string]any
	if err := json.Unmarshal([]byte(doc), &policy); err != nil {
		return nil, nil, fmt.Errorf("parsing the bucket policy: %w", err)
	}
	switch st := policy["Statement"].(type) {
	case []any:
		return policy, st, nil
	case map[string]any:
		return policy, []any{st}, nil
	}
	return policy, nil, nil
}

// hasTLSOnlyStatement reports whether the policy denies every request
// without TLS to the bucket and its objects: kforge's statement, or one of
// the owner's to the same effect. A Deny narrower than that (some actions,
// the objects only, one principal, another condition beside it) leaves
// requests without TLS allowed, so it does not count.
func hasTLSOnlyStatement(doc, region, bucket string) bool {
	_, sts, err := policyStatements(doc)
	if err != nil {
		return false
	}
	arn := awsx.BucketARN(region, bucket)
	for _, st := range sts {
		m, _ := st.(map[string]any)
		if m["Effect"] == "Deny" && m["NotAction"] == nil && m["NotResource"] == nil && m["NotPrincipal"] == nil &&
			anyone(m["Principal"]) && covers(m["Action"], "s3:*") &&
			covers(m["Resource"], arn) && covers(m["Resource"], arn+"/*") && withoutTLSOnly(m["Condition"]) {
			return true
		}
	}
	return false
}

// anyone reports whether a statement's Principal is everyone: "*" or
// {"AWS": "*"}.
func anyone(principal any) bool {
	if principal == "*" {
		return true
	}
	m, _ := principal.(map[string]any)
	return len(m) == 1 && slices.Contains(policyValues(m["AWS"]), "*")
}

// covers reports whether one of a statement's patterns (a string or a
// list; * and ? as IAM reads them) matches all of what.
func covers(patterns any, what string) bool {
	for _, p := range policyValues(patterns) {
		if p == "*" || p == what || wildcard(p).MatchString(what) {
			return true
		}
	}
	return false
}

// wildcard is an IAM pattern as a regular expression.
func wildcard(p string) *regexp.Regexp {
	q := regexp.QuoteMeta(p)
	q = strings.ReplaceAll(q, `\*`, ".*")
	q = strings.ReplaceAll(q, `\?`, ".")
	return regexp.MustCompile("^" + q + "$")
}

// withoutTLSOnly reports whether a condition block holds exactly
// Bool aws:SecureTransport = false (as a string or a JSON boolean).
func withoutTLSOnly(condition any) bool {
	m, _ := condition.(map[string]any)
	b, _ := m["Bool"].(map[string]any)
	if len(m) != 1 || len(b) != 1 {
		return false
	}
	for k, v := range b {
		if !strings.EqualFold(k, "aws:SecureTransport") {
			return false
		}
		vals := policyValues(v)
		return len(vals) == 1 && vals[0] == "false"
	}
	return false
}

// policyValues is a policy element's values: a string, a boolean or a list
// of them, as strings.
func policyValues(v any) []string {
	switch t := v.(type) {
	case string:
		return []string{t}
	case bool:
		return []string{strconv.FormatBool(t)}
	case []any:
		var out []string
		for _, e := range t {
			out = append(out, policyValues(e)...)
		}
		return out
	}
	return nil
}

// withTLSOnlyStatement is the policy with kforge's TLS-only statement in
// place of any earlier one of that Sid, every other statement kept.
func withTLSOnlyStatement(doc, region, bucket string) (string, error) {
	policy, sts, err := policyStatements(doc)
	if err != nil {
		return "", err
	}
	kept := []any{}
	for _, st := range sts {
		if m, _ := st.(map[string]any); m["Sid"] != tlsOnlySid {
			kept = append(kept, st)
		}
	}
	policy["Statement"] = append(kept, tlsOnlyStatement(region, bucket))
	data, err := json.MarshalIndent(policy, "", "  ")
	return string(data), err
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
	if errors.As(err, &nf) || isNoSuchBucket(err) || isCode(err, "NotFound") {
		return false, nil
	}
	// HeadBucket's answers have no body, so the status says what went wrong.
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		switch re.HTTPStatusCode() {
		case http.StatusMovedPermanently:
			if region := re.Response.Header.Get("X-Amz-Bucket-Region"); region != "" {
				return false, fmt.Errorf("state bucket %s is in region %s, not %s: set state.region: %s", bucket, region, client.Options().Region, region)
			}
		case http.StatusBadRequest:
			return false, fmt.Errorf("checking state bucket %s: S3 answered 400 Bad Request, as it does to an expired session token: refresh the credentials (for example aws sso login) and run again: %w", bucket, err)
		case http.StatusForbidden:
			return false, fmt.Errorf("state bucket %s: access denied (403): it belongs to another account (choose another name under state.bucket), or these credentials may not read it (s3:ListBucket) or are no longer valid (check with aws sts get-caller-identity)", bucket)
		}
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
