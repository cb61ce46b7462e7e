package terraform

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/hashicorp/terraform-exec/tfexec"

	kforge "github.com/kforge/kforge"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/testutil/golden"
)

// The iam module alone, with marker ids that normalize to the placeholders
// the golden files use, so this quick render and the full e2e apply share
// one set of goldens.
const iamWrapper = `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}

variable "endpoint" { type = string }

provider "aws" {
  region                      = "us-east-1"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  max_retries                 = 2
  endpoints {
    iam = var.endpoint
    sts = var.endpoint
  }
}

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
	pluginDir := pluginDirOrSkip(t)
	terraformBin := terraformOrSkip(t)
	emu := localawstest.StartForTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	ident, err := newClients(t, ctx, "us-east-1", emu.URL()).sts.GetCallerIdentity(ctx, nil)
	if err != nil {
		t.Fatalf("emulator account: %v", err)
	}
	account := aws.ToString(ident.Account)

	work := t.TempDir()
	if err := os.CopyFS(work, kforge.Terraform); err != nil {
		t.Fatalf("copying the embedded terraform tree: %v", err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(iamWrapper), 0o644); err != nil {
		t.Fatalf("writing the wrapper: %v", err)
	}
	tf := newTerraform(t, terraformBin, work)
	var initOpts []tfexec.InitOption
	if pluginDir != "" {
		initOpts = append(initOpts, tfexec.PluginDir(pluginDir))
	}
	if err := tf.Init(ctx, initOpts...); err != nil {
		t.Fatalf("terraform init: %v", err)
	}
	endpoint := tfexec.Var("endpoint=" + emu.URL())
	if err := tf.Apply(ctx, endpoint); err != nil {
		t.Fatalf("terraform apply of the iam module: %v", err)
	}
	outs, err := tf.Output(ctx)
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
	if err := tf.Destroy(ctx, endpoint); err != nil {
		t.Errorf("terraform destroy: %v", err)
	}
}
