package backend_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/backend"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func newClient(t *testing.T) (*s3.Client, aws.Config) {
	t.Helper()
	e := localawstest.StartForTest(t)
	cfg, err := awsx.Config(context.Background(), "eu-west-1", e.URL())
	if err != nil {
		t.Fatal(err)
	}
	return awsx.S3Client(cfg, e.URL()), cfg
}

func TestEnsureCreatesAPrivateVersionedEncryptedBucketIdempotently(t *testing.T) {
	ctx := context.Background()
	client, cfg := newClient(t)
	name, err := backend.DefaultBucketName(ctx, cfg, "eu-west-1")
	if err != nil {
		t.Fatal(err)
	}
	if name != "kforge-state-123456789012-eu-west-1" {
		t.Fatalf("default name = %q, want kforge-state-<moto account>-eu-west-1", name)
	}
	opts := backend.Options{Bucket: name, Region: "eu-west-1", Emulated: true, Tags: map[string]string{"kforge.io/purpose": "terraform-state"}}

	first, err := backend.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatalf("first Ensure: %v", err)
	}
	if !first.Created {
		t.Errorf("first Ensure did not report creating the bucket")
	}
	if len(first.Notes) == 0 || !strings.Contains(first.Notes[0], "TLS-only") {
		t.Errorf("emulated Ensure must say the TLS-only policy is left out, notes = %v", first.Notes)
	}
	second, err := backend.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if second.Created {
		t.Errorf("second Ensure claims to have created the bucket again")
	}

	b := aws.String(name)
	v, err := client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: b})
	if err != nil || v.Status != s3types.BucketVersioningStatusEnabled {
		t.Errorf("versioning = %v (err %v), want Enabled", v.Status, err)
	}
	enc, err := client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
	if err != nil || len(enc.ServerSideEncryptionConfiguration.Rules) != 1 ||
		enc.ServerSideEncryptionConfiguration.Rules[0].ApplyServerSideEncryptionByDefault.SSEAlgorithm != s3types.ServerSideEncryptionAes256 {
		t.Errorf("encryption = %+v (err %v), want AES256", enc, err)
	}
	pab, err := client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
	if err != nil {
		t.Fatalf("public access block: %v", err)
	}
	c := pab.PublicAccessBlockConfiguration
	if !aws.ToBool(c.BlockPublicAcls) || !aws.ToBool(c.IgnorePublicAcls) || !aws.ToBool(c.BlockPublicPolicy) || !aws.ToBool(c.RestrictPublicBuckets) {
		t.Errorf("public access block = %+v, want all four true", c)
	}
	own, err := client.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b})
	if err != nil || own.OwnershipControls.Rules[0].ObjectOwnership != s3types.ObjectOwnershipBucketOwnerEnforced {
		t.Errorf("ownership = %+v (err %v), want BucketOwnerEnforced", own, err)
	}
	tags, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Key) != "kforge.io/purpose" {
		t.Errorf("tags = %+v (err %v)", tags, err)
	}
	if _, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b}); err == nil {
		t.Errorf("emulated bucket has a policy; the TLS condition would deny everything on the emulator")
	}
}

func TestTLSOnlyPolicy(t *testing.T) {
	for region, partition := range map[string]string{"eu-west-1": "aws", "us-gov-west-1": "aws-us-gov"} {
		var p struct {
			Statement []struct {
				Effect    string
				Action    string
				Resource  []string
				Condition map[string]map[string]string
			}
		}
		if err := json.Unmarshal([]byte(backend.TLSOnlyPolicy(region, "b1")), &p); err != nil {
			t.Fatal(err)
		}
		s := p.Statement[0]
		if s.Effect != "Deny" || s.Action != "s3:*" || s.Condition["Bool"]["aws:SecureTransport"] != "false" {
			t.Errorf("statement = %+v, want Deny s3:* unless aws:SecureTransport", s)
		}
		arn := "arn:" + partition + ":s3:::b1"
		if len(s.Resource) != 2 || s.Resource[0] != arn || s.Resource[1] != arn+"/*" {
			t.Errorf("%s: resources = %v, want the bucket and its objects in partition %s", region, s.Resource, partition)
		}
	}
}

// TestPurgeStateKeepsOtherEnvironments: the default state bucket holds
// every environment of the account and region. Purging prod (three
// versions, a delete marker and a lock file) leaves prod-eu's state, whose
// key starts with prod's cluster name, and the bucket; purging prod-eu
// then deletes the bucket; a missing bucket is no error.
func TestPurgeStateKeepsOtherEnvironments(t *testing.T) {
	ctx := context.Background()
	client, _ := newClient(t)
	opts := backend.Options{Bucket: "kforge-state-purge-test", Region: "eu-west-1", Emulated: true}
	if _, err := backend.Ensure(ctx, client, opts); err != nil {
		t.Fatal(err)
	}
	put := func(key string) {
		t.Helper()
		if _, err := client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(opts.Bucket), Key: aws.String(key), Body: strings.NewReader("{}")}); err != nil {
			t.Fatal(err)
		}
	}
	const prod, prodEU = "prod/prod/terraform.tfstate", "prod-eu/prod/terraform.tfstate"
	for range 3 {
		put(prod)
	}
	put(prod + ".tflock")
	if _, err := client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(opts.Bucket), Key: aws.String(prod + ".tflock")}); err != nil {
		t.Fatal(err)
	}
	put(prodEU)

	res, err := backend.PurgeState(ctx, client, opts.Bucket, prod)
	if err != nil {
		t.Fatalf("PurgeState(prod): %v", err)
	}
	if res.Versions != 5 || res.BucketDeleted || !slices.Equal(res.Others, []string{prodEU}) {
		t.Errorf("PurgeState(prod) = %+v; want 5 versions deleted, the bucket kept for %s", res, prodEU)
	}
	if _, err := client.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(opts.Bucket), Key: aws.String(prodEU)}); err != nil {
		t.Errorf("prod-eu's state after purging prod's: %v", err)
	}

	res, err = backend.PurgeState(ctx, client, opts.Bucket, prodEU)
	if err != nil || res.Versions != 1 || !res.BucketDeleted || len(res.Others) != 0 {
		t.Fatalf("PurgeState(prod-eu) = %+v, %v; want 1 version deleted and the bucket with it", res, err)
	}
	if ok, err := backend.Exists(ctx, client, opts.Bucket); err != nil || ok {
		t.Fatalf("bucket still exists after the last state was purged (err %v)", err)
	}
	if res, err := backend.PurgeState(ctx, client, opts.Bucket, prodEU); err != nil || res.BucketDeleted || res.Versions != 0 {
		t.Fatalf("PurgeState of a missing bucket = %+v, %v; want nothing done, no error", res, err)
	}
}

func TestEnsureAppliesTLSOnlyPolicyOffEmulator(t *testing.T) {
	ctx := context.Background()
	client, _ := newClient(t)
	opts := backend.Options{Bucket: "kforge-state-policy-test", Region: "eu-west-1"}
	res, err := backend.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatalf("Ensure: %v", err)
	}
	if res.Applied[len(res.Applied)-1] != "TLS-only bucket policy" {
		t.Errorf("applied = %v, want the TLS-only policy last", res.Applied)
	}
	pol, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: aws.String(opts.Bucket)})
	if err != nil {
		t.Fatalf("GetBucketPolicy: %v", err)
	}
	if !strings.Contains(aws.ToString(pol.Policy), "aws:SecureTransport") {
		t.Errorf("policy = %s, want a SecureTransport condition", aws.ToString(pol.Policy))
	}
}

// failFirst answers the first request that matches as S3 does with an
// error (status, code and message in S3's own error document); everything
// else, and every later match, goes to the emulator.
type failFirst struct {
	next          http.RoundTripper
	match         func(*http.Request) bool
	status        int
	code, message string
	served        atomic.Int32
}

func (f *failFirst) RoundTrip(r *http.Request) (*http.Response, error) {
	if f.match(r) && f.served.Add(1) == 1 {
		body := `<?xml version="1.0" encoding="UTF-8"?><Error><Code>` + f.code + `</Code><Message>` + f.message + `</Message></Error>`
		return &http.Response{StatusCode: f.status, Status: fmt.Sprintf("%d %s", f.status, http.StatusText(f.status)), Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
			Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(body)), Request: r}, nil
	}
	return f.next.RoundTrip(r)
}

// TestEnsureWaitsForANewBucketToBeVisible: a new bucket that still answers
// NoSuchBucket to its first setting is set up once it is visible.
func TestEnsureWaitsForANewBucketToBeVisible(t *testing.T) {
	ctx := context.Background()
	e := localawstest.StartForTest(t)
	cfg, err := awsx.Config(ctx, "eu-west-1", e.URL())
	if err != nil {
		t.Fatal(err)
	}
	// The first PutBucketVersioning answers as S3 may right after
	// CreateBucket (bucket configuration is eventually consistent).
	rt := &failFirst{next: http.DefaultTransport, status: http.StatusNotFound, code: "NoSuchBucket", message: "The specified bucket does not exist",
		match: func(r *http.Request) bool { return r.Method == http.MethodPut && r.URL.Query().Has("versioning") }}
	cfg.HTTPClient = &http.Client{Transport: rt}
	res, err := backend.Ensure(ctx, awsx.S3Client(cfg, e.URL()), backend.Options{Bucket: "kforge-state-new", Region: "eu-west-1", Emulated: true})
	if err != nil {
		t.Fatalf("Ensure on a bucket not yet visible: %v", err)
	}
	if got := rt.served.Load(); got < 2 || !slices.Contains(res.Applied, "versioning") {
		t.Fatalf("versioning asked %d times, applied %v; want a retry after NoSuchBucket", got, res.Applied)
	}
}

// A state bucket that exists keeps what others put on it (a tag of theirs,
// a statement of their policy, their default encryption), gets only what
// it lacks, and a second Ensure writes nothing: a read-only role can plan.
func TestEnsureKeepsOthersSettingsAndWritesOnlyWhatIsMissing(t *testing.T) {
	ctx := context.Background()
	client, _ := newClient(t)
	bucket := aws.String("company-terraform-state")
	if _, err := client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket,
		CreateBucketConfiguration: &s3types.CreateBucketConfiguration{LocationConstraint: "eu-west-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := client.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: bucket,
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("cost-center"), Value: aws.String("42")}}}}); err != nil {
		t.Fatal(err)
	}
	theirs := `{"Version":"2012-10-17","Statement":{"Sid":"AuditRead","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::company-terraform-state/*"}}`
	if _, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: bucket, Policy: aws.String(theirs)}); err != nil {
		t.Fatal(err)
	}
	opts := backend.Options{Bucket: *bucket, Region: "eu-west-1", Tags: map[string]string{"kforge.io/purpose": "terraform-state"}}
	first, err := backend.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatalf("Ensure on an existing bucket: %v", err)
	}
	if first.Created || !slices.Contains(first.Changed, "tags") || !slices.Contains(first.Changed, "TLS-only bucket policy") {
		t.Errorf("first Ensure changed %v, want at least its tag and the TLS-only statement", first.Changed)
	}
	tags, err := client.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: bucket})
	if err != nil || len(tags.TagSet) != 2 {
		t.Errorf("tags %+v (err %v), want cost-center kept beside kforge.io/purpose", tags, err)
	}
	pol, err := client.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: bucket})
	if err != nil || !strings.Contains(aws.ToString(pol.Policy), "AuditRead") || !strings.Contains(aws.ToString(pol.Policy), "aws:SecureTransport") {
		t.Errorf("policy %s (err %v), want their statement kept beside the TLS-only one", aws.ToString(pol.Policy), err)
	}
	second, err := backend.Ensure(ctx, client, opts)
	if err != nil {
		t.Fatalf("second Ensure: %v", err)
	}
	if len(second.Changed) != 0 || len(second.Applied) != 6 {
		t.Errorf("second Ensure changed %v (applied %v), want nothing written and all six settings in place", second.Changed, second.Applied)
	}
}

// A state bucket made again right after down --purge-state deleted it is
// created once S3 has finished with the name.
func TestEnsureRetriesABusyBucketName(t *testing.T) {
	ctx := context.Background()
	e := localawstest.StartForTest(t)
	cfg, err := awsx.Config(ctx, "eu-west-1", e.URL())
	if err != nil {
		t.Fatal(err)
	}
	// The first CreateBucket answers as S3 does while it still finishes
	// deleting a bucket of that name.
	rt := &failFirst{next: http.DefaultTransport, status: http.StatusConflict, code: "OperationAborted",
		message: "A conflicting conditional operation is currently in progress against this resource. Please try again.",
		match: func(r *http.Request) bool {
			return r.Method == http.MethodPut && r.URL.RawQuery == "" && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0
		}}
	cfg.HTTPClient = &http.Client{Transport: rt}
	res, err := backend.Ensure(ctx, awsx.S3Client(cfg, e.URL()), backend.Options{Bucket: "kforge-state-busy", Region: "eu-west-1", Emulated: true})
	if err != nil {
		t.Fatalf("Ensure while the name is busy: %v", err)
	}
	if got := rt.served.Load(); got < 2 || !res.Created {
		t.Fatalf("CreateBucket asked %d times, created %v; want a retry after OperationAborted", got, res.Created)
	}
}

// HeadBucket's answers carry no error body: each status S3 answers gets a
// message that says what to do (these three answers as S3 sends them).
func TestExistsExplainsHeadBucketStatuses(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		status int
		header http.Header
		want   string
	}{
		{"other region", http.StatusMovedPermanently, http.Header{"X-Amz-Bucket-Region": {"ap-south-1"}}, "is in region ap-south-1, not eu-west-1: set state.region: ap-south-1"},
		{"expired session token", http.StatusBadRequest, nil, "refresh the credentials"},
		{"another account or no access", http.StatusForbidden, nil, "another account (choose another name under state.bucket), or these credentials may not read it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tc.status)
			}))
			defer srv.Close()
			cfg, err := awsx.Config(ctx, "eu-west-1", srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			_, err = backend.Exists(ctx, awsx.S3Client(cfg, srv.URL), "kforge-state-x")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("HeadBucket %d: %v; want %q", tc.status, err, tc.want)
			}
		})
	}
}
