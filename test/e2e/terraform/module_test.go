package terraform

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-exec/tfexec"

	kforge "github.com/kforge/kforge"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// wrapperProvider is the head of a wrapper that calls one module alone: the
// provider, pointed at the emulator (var.endpoint) for the given services.
func wrapperProvider(services ...string) string {
	var endpoints strings.Builder
	for _, s := range services {
		fmt.Fprintf(&endpoints, "    %s = var.endpoint\n", s)
	}
	return `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}

variable "endpoint" { type = string }

provider "aws" {
  region                      = "us-east-1"
  s3_use_path_style           = true
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  max_retries                 = 2
  endpoints {
` + endpoints.String() + `  }
}
`
}

// stagedModule is a wrapper module staged next to the embedded terraform
// tree, initialized, with its own emulator.
type stagedModule struct {
	tf *tfexec.Terraform
	// endpoint is the emulator's URL; endpointVar passes it as var.endpoint.
	endpoint    string
	endpointVar *tfexec.VarOption
	dir         string
}

// stageModule writes wrapper as main.tf beside a copy of the embedded
// terraform tree and runs terraform init (offline with the provider
// mirror). It skips without terraform or a way to get the provider.
func stageModule(t *testing.T, ctx context.Context, wrapper string) stagedModule {
	t.Helper()
	pluginDir := pluginDirOrSkip(t)
	terraformBin := terraformOrSkip(t)
	emu := localawstest.StartForTest(t)

	work := t.TempDir()
	if err := os.CopyFS(work, kforge.Terraform); err != nil {
		t.Fatalf("copying the embedded terraform tree: %v", err)
	}
	if err := os.WriteFile(filepath.Join(work, "main.tf"), []byte(wrapper), 0o644); err != nil {
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
	return stagedModule{tf: tf, endpoint: emu.URL(), endpointVar: tfexec.Var("endpoint=" + emu.URL()), dir: work}
}

// plannedPolicy plans the staged wrapper and returns its policy_json
// output, which must be known at plan time.
func (m stagedModule) plannedPolicy(t *testing.T, ctx context.Context) string {
	t.Helper()
	planFile := filepath.Join(m.dir, "plan.out")
	if _, err := m.tf.Plan(ctx, m.endpointVar, tfexec.Out(planFile)); err != nil {
		t.Fatalf("terraform plan: %v", err)
	}
	plan, err := m.tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		t.Fatalf("terraform show: %v", err)
	}
	var policy string
	if plan.PlannedValues != nil {
		if o := plan.PlannedValues.Outputs["policy_json"]; o != nil {
			policy, _ = o.Value.(string)
		}
	}
	if policy == "" {
		t.Fatal("the plan does not know the policy before apply")
	}
	return policy
}
