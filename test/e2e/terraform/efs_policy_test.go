package terraform

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/testutil/golden"
)

// The file system policy is known at plan time, with a placeholder for the
// file system's ARN; the storage module's own terraform test compares what
// it applies with the same file.
const efsPolicyGolden = "../../../terraform/modules/storage/tests/testdata/policy.json"

// The storage module alone with the real-AWS configuration (policy on),
// planned only: the document does not depend on anything the emulator
// creates.
var storageWrapper = wrapperProvider("efs", "ec2", "iam", "sts") + `
module "storage" {
  source                    = "./terraform/modules/storage"
  cluster_name              = "kforge-local"
  vpc_id                    = "vpc-12345678"
  subnet_ids                = ["subnet-1"]
  kms_key_arn               = "arn:aws:kms:us-east-1:123456789012:key/KMSKEYID"
  client_security_group_ids = ["sg-12345678"]
  enforce_tls               = true
}

output "policy_json" { value = module.storage.policy_json }
`

// TestEFSFileSystemPolicyGolden plans the storage module and compares its
// file system policy with the golden file, then evaluates it. It runs in
// -short mode so `make golden` rewrites the file.
func TestEFSFileSystemPolicyGolden(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	policy := stageModule(t, ctx, storageWrapper).plannedPolicy(t, ctx)
	canonical, err := canonicalPolicy(policy)
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	golden.Assert(t, efsPolicyGolden, append(canonical, '\n'))
	checkEFSPolicyDecisions(t, policy)
}

// TestEFSFileSystemPolicyDecisions evaluates the reviewed policy offline,
// and shows that the evaluation rejects a TLS-only policy that forgot the
// Allow: a file system policy replaces EFS's default full access, so such a
// policy refuses every mount, with TLS or without.
func TestEFSFileSystemPolicyDecisions(t *testing.T) {
	raw, err := os.ReadFile(efsPolicyGolden)
	if err != nil {
		t.Fatalf("golden policy: %v", err)
	}
	checkEFSPolicyDecisions(t, string(raw))

	denyOnly := `{"Statement":[{"Effect":"Deny","Principal":{"AWS":"*"},"Action":"*","Resource":"${FILE_SYSTEM_ARN}","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}`
	doc, err := decodePolicyDocument(strings.ReplaceAll(denyOnly, "${FILE_SYSTEM_ARN}", efsTestARN))
	if err != nil {
		t.Fatalf("deny-only policy: %v", err)
	}
	if allowed, _ := efsPolicyDecision(t, doc, efsRequest{action: "elasticfilesystem:ClientMount", tls: true}); allowed {
		t.Error("the evaluation lets a mount through a policy that grants nothing; it cannot tell the fix from the defect")
	}
}

const efsTestARN = "arn:aws:elasticfilesystem:us-east-1:123456789012:file-system/fs-0123456789abcdef0"

// efsRequest is an NFS client's request as a file system policy sees it:
// an anonymous client (the EFS CSI driver mounts without IAM) through a
// mount target, over TLS or not.
type efsRequest struct {
	name   string
	action string
	tls    bool
}

func checkEFSPolicyDecisions(t *testing.T, policy string) {
	t.Helper()
	doc, err := decodePolicyDocument(strings.ReplaceAll(policy, "${FILE_SYSTEM_ARN}", efsTestARN))
	if err != nil {
		t.Fatalf("policy: %v", err)
	}
	cases := []struct {
		req   efsRequest
		allow bool
	}{
		{efsRequest{"mount over TLS (the EFS CSI driver's default)", "elasticfilesystem:ClientMount", true}, true},
		{efsRequest{"write over TLS", "elasticfilesystem:ClientWrite", true}, true},
		{efsRequest{"root access over TLS (as EFS's default policy allows)", "elasticfilesystem:ClientRootAccess", true}, true},
		{efsRequest{"mount without TLS (encryptInTransit: \"false\", or a plain NFS mount)", "elasticfilesystem:ClientMount", false}, false},
		{efsRequest{"write without TLS", "elasticfilesystem:ClientWrite", false}, false},
	}
	for _, c := range cases {
		if allowed, why := efsPolicyDecision(t, doc, c.req); allowed != c.allow {
			t.Errorf("%s: allowed = %v (%s), want %v", c.req.name, allowed, why, c.allow)
		}
	}
}

// efsPolicyDecision is the file system policy's answer to req: denied by
// any matching Deny, else allowed only by a matching Allow (EFS's default
// full access no longer applies once a policy exists).
func efsPolicyDecision(t *testing.T, doc policyDocument, req efsRequest) (bool, string) {
	t.Helper()
	r := s3Request{action: req.action, resource: efsTestARN, ctx: map[string]string{
		"aws:SecureTransport":                      strconv.FormatBool(req.tls),
		"elasticfilesystem:AccessedViaMountTarget": "true",
	}}
	denied, sid, err := anyStatementMatches(doc, "Deny", r)
	if err != nil {
		t.Fatalf("%s: %v", req.name, err)
	}
	if denied {
		return false, "denied by " + sid
	}
	allowed, sid, err := anyStatementMatches(doc, "Allow", r)
	if err != nil {
		t.Fatalf("%s: %v", req.name, err)
	}
	if !allowed {
		return false, "no statement allows it"
	}
	return true, "allowed by " + sid
}
