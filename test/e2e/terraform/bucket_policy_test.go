package terraform

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/internal/testutil/golden"
)

// The certs bucket policy is known at plan time; the module's own terraform
// test compares it with the same file.
const bucketPolicyGolden = "../../../terraform/modules/buckets/tests/testdata/policy.json"

// The buckets module alone with the real-AWS configuration (policy on),
// planned against the emulator only for its caller identity and region.
var bucketsWrapper = wrapperProvider("s3", "sts") + `
module "buckets" {
  source              = "./terraform/modules/buckets"
  cluster_name        = "kforge-local"
  kms_key_arn         = "arn:aws:kms:us-east-1:123456789012:key/KMSKEYID"
  enforce_tls_and_sse = true
}

output "policy_json" { value = module.buckets.policy_json }
`

// TestCertsBucketPolicyGolden plans the buckets module (no apply: the
// document is known at plan time) and compares its policy with the golden
// file, then evaluates it. It runs in -short mode so `make golden` rewrites
// the file.
func TestCertsBucketPolicyGolden(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := stageModule(t, ctx, bucketsWrapper)
	policy := m.plannedPolicy(t, ctx)
	ident, err := newClients(t, ctx, "us-east-1", m.endpoint).sts.GetCallerIdentity(ctx, nil)
	if err != nil {
		t.Fatalf("emulator account: %v", err)
	}
	bucketARN := "arn:aws:s3:::kforge-local-certs-" + aws.ToString(ident.Account) + "-us-east-1"
	canonical, err := canonicalPolicy(policy)
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	got := strings.NewReplacer(
		"arn:aws:kms:us-east-1:123456789012:key/KMSKEYID", "${KMS_KEY_ARN}",
		bucketARN, "${BUCKET_ARN}",
	).Replace(string(canonical))
	golden.Assert(t, bucketPolicyGolden, []byte(got+"\n"))

	doc, err := decodePolicyDocument(policy)
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	checkBucketPolicyDecisions(t, doc, bucketARN, "arn:aws:kms:us-east-1:123456789012:key/KMSKEYID")
}

// TestCertsBucketPolicyDecisions evaluates the reviewed policy offline, and
// shows that the evaluation rejects the policy that denied multipart
// uploads.
func TestCertsBucketPolicyDecisions(t *testing.T) {
	const bucketARN = "arn:aws:s3:::kforge-local-certs-123456789012-us-east-1"
	const keyARN = "arn:aws:kms:us-east-1:123456789012:key/0f0e0d0c-0b0a-0908-0706-050403020100"
	raw, err := os.ReadFile(bucketPolicyGolden)
	if err != nil {
		t.Fatalf("golden policy: %v", err)
	}
	doc, err := decodePolicyDocument(strings.NewReplacer("${BUCKET_ARN}", bucketARN, "${KMS_KEY_ARN}", keyARN).Replace(string(raw)))
	if err != nil {
		t.Fatalf("golden policy: %v", err)
	}
	checkBucketPolicyDecisions(t, doc, bucketARN, keyARN)

	// The statements before the multipart fix: StringNotEquals and
	// StringNotEqualsIfExists are true when the header is absent.
	old := fmt.Sprintf(`{"Statement":[
	  {"Effect":"Deny","Action":"s3:PutObject","Resource":"%[1]s/*","Condition":{"StringNotEquals":{"s3:x-amz-server-side-encryption":"aws:kms"}}},
	  {"Effect":"Deny","Action":"s3:PutObject","Resource":"%[1]s/*","Condition":{"StringNotEqualsIfExists":{"s3:x-amz-server-side-encryption-aws-kms-key-id":"%[2]s"}}}]}`, bucketARN, keyARN)
	oldDoc, err := decodePolicyDocument(old)
	if err != nil {
		t.Fatalf("old policy: %v", err)
	}
	if denied, _, err := bucketPolicyDenies(oldDoc, s3Request{action: "s3:PutObject", resource: bucketARN + "/bootstrap/kforge-node", ctx: map[string]string{"aws:SecureTransport": "true"}}); err != nil || !denied {
		t.Errorf("the evaluation lets UploadPart through the old policy (denied %v, %v); it cannot tell the fix from the defect", denied, err)
	}
}

// s3Request is the part of an S3 request context a bucket policy's deny
// statements test: the action it is authorized as, the object, and the
// condition keys present (an absent key is absent from ctx).
type s3Request struct {
	name     string
	action   string
	resource string
	ctx      map[string]string
}

func checkBucketPolicyDecisions(t *testing.T, doc policyDocument, bucketARN, keyARN string) {
	t.Helper()
	obj := bucketARN + "/bootstrap/kforge-node"
	tls := func(kv ...string) map[string]string {
		m := map[string]string{"aws:SecureTransport": "true"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	const sse, keyID, sseC = "s3:x-amz-server-side-encryption", "s3:x-amz-server-side-encryption-aws-kms-key-id", "s3:x-amz-server-side-encryption-customer-algorithm"
	cases := []struct {
		req  s3Request
		deny bool
	}{
		{s3Request{"PutObject with SSE-KMS and the cluster key (node agent, small objects)", "s3:PutObject", obj, tls(sse, "aws:kms", keyID, keyARN)}, false},
		{s3Request{"CreateMultipartUpload with SSE-KMS and the cluster key", "s3:PutObject", obj, tls(sse, "aws:kms", keyID, keyARN)}, false},
		{s3Request{"UploadPart (no encryption header)", "s3:PutObject", obj, tls()}, false},
		{s3Request{"CompleteMultipartUpload (no encryption header)", "s3:PutObject", obj, tls()}, false},
		{s3Request{"PutObject without headers (default encryption: the cluster key)", "s3:PutObject", obj, tls()}, false},
		{s3Request{"GetObject over TLS", "s3:GetObject", obj, tls()}, false},
		{s3Request{"ListBucket over TLS", "s3:ListBucket", bucketARN, tls()}, false},
		{s3Request{"PutObject with SSE-S3", "s3:PutObject", obj, tls(sse, "AES256")}, true},
		{s3Request{"PutObject with DSSE-KMS", "s3:PutObject", obj, tls(sse, "aws:kms:dsse", keyID, keyARN)}, true},
		{s3Request{"PutObject with SSE-KMS and no key id (aws/s3 managed key)", "s3:PutObject", obj, tls(sse, "aws:kms")}, true},
		{s3Request{"PutObject with SSE-KMS and another key", "s3:PutObject", obj, tls(sse, "aws:kms", keyID, strings.Replace(keyARN, "key/", "key/other-", 1))}, true},
		{s3Request{"CreateMultipartUpload with SSE-KMS and another key", "s3:PutObject", obj, tls(sse, "aws:kms", keyID, "alias/aws/s3")}, true},
		{s3Request{"PutObject with SSE-C", "s3:PutObject", obj, tls(sseC, "AES256")}, true},
		{s3Request{"GetObject without TLS", "s3:GetObject", obj, map[string]string{"aws:SecureTransport": "false"}}, true},
		{s3Request{"UploadPart without TLS", "s3:PutObject", obj, map[string]string{"aws:SecureTransport": "false"}}, true},
	}
	for _, c := range cases {
		denied, sid, err := bucketPolicyDenies(doc, c.req)
		if err != nil {
			t.Errorf("%s: %v", c.req.name, err)
			continue
		}
		if denied != c.deny {
			t.Errorf("%s: denied = %v (statement %q), want %v", c.req.name, denied, sid, c.deny)
		}
	}
}

// bucketPolicyDenies reports whether a Deny statement of doc matches req,
// by the IAM rules for condition operators: operators in a block, and keys
// in an operator, are ANDed; values of one key are ORed (NORed for a
// negated operator); an absent key makes a plain operator false, a negated
// one true, any ...IfExists operator true, and Null tests presence. An
// operator it does not know is an error, never a silent match.
func bucketPolicyDenies(doc policyDocument, req s3Request) (bool, string, error) {
	return anyStatementMatches(doc, "Deny", req)
}

// policyAllows reports whether an Allow statement of doc matches req (an
// identity policy; there is no Deny in the node roles' documents).
func policyAllows(doc policyDocument, req s3Request) (bool, string, error) {
	return anyStatementMatches(doc, "Allow", req)
}

func anyStatementMatches(doc policyDocument, effect string, req s3Request) (bool, string, error) {
	for _, st := range doc.Statement {
		if st.Effect != effect || !matchesAny(st.Action, req.action) || !matchesAny(st.Resource, req.resource) {
			continue
		}
		all := true
		for op, keys := range st.Condition {
			for key, want := range keys {
				ok, err := conditionHolds(op, req.ctx, key, want)
				if err != nil {
					return false, st.Sid, fmt.Errorf("statement %q: %w", st.Sid, err)
				}
				all = all && ok
			}
		}
		if all {
			return true, st.Sid, nil
		}
	}
	return false, "", nil
}

func matchesAny(patterns []string, s string) bool {
	for _, p := range patterns {
		if ok, _ := path.Match(p, s); ok || p == s {
			return true
		}
		// path.Match stops "*" at "/"; IAM's does not.
		if before, ok := strings.CutSuffix(p, "*"); ok && !strings.Contains(before, "*") && strings.HasPrefix(s, before) {
			return true
		}
	}
	return false
}

func conditionHolds(op string, ctx map[string]string, key string, want any) (bool, error) {
	var values []string
	switch w := want.(type) {
	case string:
		values = []string{w}
	case []any:
		for _, v := range w {
			s, ok := v.(string)
			if !ok {
				return false, fmt.Errorf("%s %s: value %v is not a string", op, key, v)
			}
			values = append(values, s)
		}
	default:
		return false, fmt.Errorf("%s %s: value %v is not a string or a list", op, key, want)
	}
	got, present := ctx[key]
	if op == "Null" {
		if len(values) != 1 || (values[0] != "true" && values[0] != "false") {
			return false, fmt.Errorf("Null %s: want \"true\" or \"false\", got %v", key, values)
		}
		return (values[0] == "true") == !present, nil
	}
	base, ifExists := strings.CutSuffix(op, "IfExists")
	var negated, like bool
	switch base {
	case "StringEquals", "Bool":
	case "StringNotEquals":
		negated = true
	case "StringLike":
		like = true
	default:
		return false, fmt.Errorf("condition operator %s is not evaluated by this test", op)
	}
	equal := false
	for _, v := range values {
		if got == v || (like && matchesAny([]string{v}, got)) {
			equal = true
		}
	}
	switch {
	case !present && ifExists:
		return true, nil
	case !present:
		return negated, nil
	case negated:
		return !equal, nil
	default:
		return equal, nil
	}
}

// TestMissingKeysRead404 checks, on the reviewed node role policies, that
// every key a role reads may come back as 404 when it is missing: S3 answers
// NoSuchKey only to a caller allowed s3:ListBucket on the bucket, decided in
// the context of the GetObject request, which has no s3:prefix key. The
// emulator does not model that rule (it answers 404 to anyone allowed
// GetObject), so it is checked here on the documents the emulator applies.
func TestMissingKeysRead404(t *testing.T) {
	const account = "123456789012"
	bucketARN := "arn:aws:s3:::kforge-local-certs-" + account + "-us-east-1"
	reads := map[string][]string{
		// The first controller's restore check, and its own bootstrap.
		"controller": {node.PKIBackupKey, node.EtcdSnapshotKey, node.JoinKey, "bootstrap/cluster.json"},
		// A worker waiting for join material.
		"worker": {node.JoinKey, "bootstrap/cluster.json", "bootstrap/kforge-node"},
	}
	for role, keys := range reads {
		raw, err := os.ReadFile(filepath.Join("testdata", "iam", role+".json"))
		if err != nil {
			t.Fatalf("golden policy %s: %v", role, err)
		}
		doc, err := decodePolicyDocument(strings.NewReplacer("${ACCOUNT_ID}", account, "${KMS_KEY_ID}", "k", "${ZONE_ID}", "Z", "${EFS_ID}", "fs").Replace(string(raw)))
		if err != nil {
			t.Fatalf("golden policy %s: %v", role, err)
		}
		for _, key := range keys {
			get := s3Request{action: "s3:GetObject", resource: bucketARN + "/" + key, ctx: map[string]string{}}
			if ok, _, err := policyAllows(doc, get); err != nil || !ok {
				t.Errorf("%s may not read %s (%v)", role, key, err)
			}
			// The ListBucket check made for a GetObject of a missing key.
			list := s3Request{action: "s3:ListBucket", resource: bucketARN, ctx: map[string]string{}}
			if ok, _, err := policyAllows(doc, list); err != nil || !ok {
				t.Errorf("%s reading a missing %s gets 403, not 404: no s3:ListBucket without an s3:prefix condition (%v)", role, key, err)
			}
		}
	}

	// The grant before the fix: only with an s3:prefix condition.
	old, err := decodePolicyDocument(`{"Statement":[{"Effect":"Allow","Action":["s3:ListBucket"],"Resource":["` + bucketARN + `"],"Condition":{"StringLike":{"s3:prefix":["bootstrap/*","workers/*"]}}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _, err := policyAllows(old, s3Request{action: "s3:ListBucket", resource: bucketARN, ctx: map[string]string{}}); err != nil || ok {
		t.Errorf("the prefix-conditioned grant passes the check (%v, %v); it cannot tell the fix from the defect", ok, err)
	}
	if ok, _, _ := policyAllows(old, s3Request{action: "s3:ListBucket", resource: bucketARN, ctx: map[string]string{"s3:prefix": "workers/join.json"}}); !ok {
		t.Error("the evaluation of StringLike does not match a listed prefix")
	}
}
