package terraform

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/kforge/kforge/internal/testutil/golden"
)

// The iam module alone, with marker ids that normalize to the placeholders
// the golden files use, so this quick render and the full e2e apply share
// one set of goldens.
var iamWrapper = wrapperProvider("iam", "sts") + `
data "aws_caller_identity" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
}

module "iam" {
  source              = "./terraform/modules/iam"
  cluster_name        = "kforge-local"
  bucket_arn          = "arn:aws:s3:::kforge-local-certs-${local.account}-us-east-1"
  kms_key_arn         = "arn:aws:kms:us-east-1:${local.account}:key/KMSKEYID"
  zone_id             = "ZONEID"
  api_record_name     = "api.apirecord.test"
  efs_file_system_arn = "arn:aws:elasticfilesystem:us-east-1:${local.account}:file-system/EFSID"
}

output "policy_documents" { value = module.iam.policy_documents }
`

// TestIAMPolicyGolden renders the iam module's policies by applying the
// module alone to the emulator (IAM has no fixed provider waits, so this
// takes seconds) and compares them with testdata/iam. It runs in -short
// mode, so `make golden` rewrites the files; the full lifecycle test
// compares the policies of the applied cluster with the same files.
func TestIAMPolicyGolden(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	m := stageModule(t, ctx, iamWrapper)

	ident, err := newClients(t, ctx, "us-east-1", m.endpoint).sts.GetCallerIdentity(ctx, nil)
	if err != nil {
		t.Fatalf("emulator account: %v", err)
	}
	account := aws.ToString(ident.Account)
	if err := m.tf.Apply(ctx, m.endpointVar); err != nil {
		t.Fatalf("terraform apply of the iam module: %v", err)
	}
	outs, err := m.tf.Output(ctx)
	if err != nil {
		t.Fatalf("terraform output: %v", err)
	}
	var docs map[string]string
	if err := json.Unmarshal(outs["policy_documents"].Value, &docs); err != nil {
		t.Fatalf("decoding policy_documents: %v", err)
	}
	if len(docs) != len(policyNames) {
		t.Errorf("the module renders %d policies, want %d (%v)", len(docs), len(policyNames), keys(docs))
	}
	for key := range policyNames {
		doc, err := decodePolicyDocument(docs[key])
		if err != nil {
			t.Errorf("policy %s: %v", key, err)
			continue
		}
		for _, p := range policyProblems(doc, "kforge-local") {
			t.Errorf("policy %s: %s", key, p)
		}
		canonical, err := canonicalPolicy(docs[key])
		if err != nil {
			t.Fatalf("policy %s: %v", key, err)
		}
		got := strings.NewReplacer(
			"KMSKEYID", "${KMS_KEY_ID}",
			"ZONEID", "${ZONE_ID}",
			"api.apirecord.test", "${API_RECORD}",
			"EFSID", "${EFS_ID}",
			account, "${ACCOUNT_ID}",
		).Replace(string(canonical))
		golden.Assert(t, filepath.Join("testdata", "iam", key+".json"), []byte(got+"\n"))
	}
	if err := m.tf.Destroy(ctx, m.endpointVar); err != nil {
		t.Errorf("terraform destroy: %v", err)
	}
}
