package tfrun

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
)

func TestPlanStreamSummary(t *testing.T) {
	change := func(module, addr, action string) string {
		return fmt.Sprintf(`{"@level":"info","type":"planned_change","change":{"resource":{"addr":%q,"module":%q},"action":%q}}`+"\n", addr, module, action)
	}
	stream := `{"@level":"info","type":"version","terraform":"1.11.4"}` + "\n" +
		// Drift is what changed outside Terraform, not what the plan does.
		`{"@level":"info","type":"resource_drift","change":{"resource":{"addr":"module.network.aws_vpc.this","module":"module.network"},"action":"update"}}` + "\n" +
		// ...but what it found deleted is named.
		`{"@level":"info","type":"resource_drift","change":{"resource":{"addr":"module.kms.aws_kms_key.cluster","module":"module.kms"},"action":"delete"}}` + "\n" +
		`{"@level":"info","type":"resource_drift","change":{"resource":{"addr":"module.network.data.aws_ami.old","module":"module.network"},"action":"delete"}}` + "\n" +
		change("module.network", "module.network.aws_subnet.a", "create") +
		change("module.network", "module.network.aws_subnet.b", "create") +
		change("module.ingress", "module.ingress.aws_lb.this", "update") +
		change("module.ingress", "module.ingress.aws_lb_listener.https", "replace") +
		change(`module.pool["general"]`, `module.pool["general"].aws_launch_template.this`, "replace") +
		change("", "aws_kms_key.this", "delete") +
		change("module.iam", "module.iam.aws_iam_role.a", "noop") +
		change("module.iam", "module.iam.aws_iam_role.b", "move") +
		change("module.iam", "module.iam.aws_iam_role.c", "import") +
		change("module.iam", "module.iam.aws_iam_role.d", "remove") +
		change("", "data.aws_region.current", "read") +
		change("module.network", "module.network.data.aws_availability_zones.all", "read") +
		// A data source is never counted, whatever the action.
		change("module.network", "module.network.data.aws_ami.old", "delete") +
		`{"@level":"info","type":"change_summary","changes":{"add":2,"change":1,"remove":3,"operation":"plan"}}` + "\n" +
		`{"@level":"error","type":"diagnostic","diagnostic":{"severity":"error","summary":"boom"}}` + "\n"
	var p planStream
	// Written in uneven chunks, as a pipe delivers it.
	for i := 0; i < len(stream); i += 41 {
		p.Write([]byte(stream[i:min(i+41, len(stream))]))
	}
	want := Summary{
		Modules: []ModuleChanges{
			{Module: "", Destroy: 1},
			{Module: "module.ingress", Change: 1, Replace: 1},
			{Module: "module.network", Add: 2},
			{Module: `module.pool["general"]`, Replace: 1},
		},
		Totals:         ModuleChanges{Add: 2, Change: 1, Destroy: 1, Replace: 2},
		DeletedOutside: []string{"module.kms.aws_kms_key.cluster"},
	}
	if got := p.Summary(); !reflect.DeepEqual(got, want) {
		t.Errorf("summary = %+v\nwant      %+v", got, want)
	}
	if errs := p.Errors(); len(errs) != 1 || errs[0].Summary != "boom" {
		t.Errorf("diagnostics = %+v", errs)
	}
	var empty planStream
	if s := empty.Summary(); s.Total() != 0 || s.Modules == nil {
		t.Errorf("empty stream summary = %+v, want zero totals and an empty (non-nil) module list", s)
	}
}

// summaryStep is one configuration of TestPlanSummaryMatchesShowJSON and the
// summary its plan must have.
type summaryStep struct {
	name    string
	root    string // main.tf of the root module
	destroy bool
	want    ModuleChanges
}

// childModule is ./child: the resources of one module instance, and a data
// source whose read waits for apply while terraform_data.upd changes.
const childModule = `
variable "v" { type = string }
variable "gone" { type = bool }
variable "state" { type = string }

resource "terraform_data" "keep" { input = "k" }
resource "terraform_data" "upd" { input = var.v }
resource "terraform_data" "repl" {
  triggers_replace = var.v
  lifecycle { create_before_destroy = true }
}
resource "terraform_data" "gone" {
  count = var.gone ? 1 : 0
  input = "g"
}
data "terraform_remote_state" "s" {
  backend  = "local"
  config   = { path = var.state }
  defaults = { v = terraform_data.upd.output }
}
`

// TestPlanSummaryMatchesShowJSON plans real configurations (builtin
// terraform_data only: no provider download, local state) and checks that
// the summary read from the plan stream equals Summarize of the saved plan
// as terraform show -json renders it.
func TestPlanSummaryMatchesShowJSON(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	tmp := t.TempDir()
	dir := filepath.Join(tmp, "root")
	remote := filepath.Join(tmp, "remote.tfstate")
	write := func(path, text string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(remote, `{"version":4,"terraform_version":"1.11.4","serial":1,"lineage":"fixture","outputs":{},"resources":[]}`)
	write(filepath.Join(dir, "child/main.tf"), childModule)

	modules := func(childV string, childGone bool) string {
		return fmt.Sprintf(`
module "child" {
  source = "./child"
  v      = %q
  gone   = %t
  state  = %q
}
module "each" {
  source   = "./child"
  for_each = toset(["a"])
  v        = "1"
  gone     = true
  state    = %q
}
`, childV, childGone, remote, remote)
	}
	first := `
resource "terraform_data" "keep" { input = "k" }
resource "terraform_data" "upd" { input = "1" }
resource "terraform_data" "repl" { triggers_replace = "1" }
resource "terraform_data" "gone" { input = "x" }
resource "terraform_data" "forgot" { input = "f" }
` + modules("1", true)
	// Update, replace, delete, create, and a move, an import and a forget,
	// which change nothing and are not counted.
	second := `
resource "terraform_data" "kept" { input = "k" }
moved {
  from = terraform_data.keep
  to   = terraform_data.kept
}
resource "terraform_data" "upd" { input = "2" }
resource "terraform_data" "repl" { triggers_replace = "2" }
resource "terraform_data" "new" { input = "n" }
import {
  to = terraform_data.imported
  id = "imported-id"
}
resource "terraform_data" "imported" {}
removed {
  from = terraform_data.forgot
  lifecycle { destroy = false }
}
` + modules("2", false)
	steps := []summaryStep{
		{name: "create", root: first, want: ModuleChanges{Add: 13}},
		{name: "update, replace, delete", root: second, want: ModuleChanges{Add: 1, Change: 2, Destroy: 2, Replace: 2}},
		{name: "no change", root: second},
		{name: "destroy", root: second, destroy: true, want: ModuleChanges{Destroy: 12}},
	}

	write(filepath.Join(dir, "main.tf"), first)
	r := initRunner(t, ctx, dir)
	for i, step := range steps {
		write(filepath.Join(dir, "main.tf"), step.root)
		res, err := r.Plan(ctx, fmt.Sprintf("step%d.tfplan", i), step.destroy)
		if err != nil {
			t.Fatalf("%s: plan: %v", step.name, err)
		}
		full, err := r.FullPlan(ctx, res)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if again, _ := r.FullPlan(ctx, res); again != full {
			t.Errorf("%s: FullPlan read the plan again instead of keeping it", step.name)
		}
		fromShow := Summarize(full)
		t.Logf("%s: %d resource changes in the saved plan; summary %+v", step.name, len(full.ResourceChanges), res.Summary)
		if !reflect.DeepEqual(res.Summary, fromShow) {
			t.Errorf("%s: summary from the plan stream = %+v\nSummarize(show -json)            = %+v", step.name, res.Summary, fromShow)
		}
		if res.Summary.Totals != step.want {
			t.Errorf("%s: totals = %+v, want %+v", step.name, res.Summary.Totals, step.want)
		}
		if wantChanges := step.want != (ModuleChanges{}); res.Changes != wantChanges {
			t.Errorf("%s: changes = %v, want %v", step.name, res.Changes, wantChanges)
		}
		if !step.destroy {
			if err := r.Apply(ctx, res, nil); err != nil {
				t.Fatalf("%s: apply: %v", step.name, err)
			}
		}
	}
}

// A saved plan rewritten after it was shown (another kforge plan of the
// environment in the same work directory) is not applied: Terraform would
// apply any plan of the same state serial, and the operator confirmed the
// first.
func TestApplyRefusesAPlanRewrittenSinceItWasShown(t *testing.T) {
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform not on PATH")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	dir := t.TempDir()
	main := func(v string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(`resource "terraform_data" "v" { input = "`+v+`" }`+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	main("shown")
	r := initRunner(t, ctx, dir)
	shown, err := r.Plan(ctx, "kforge.tfplan", false)
	if err != nil {
		t.Fatal(err)
	}
	main("other")
	if _, err := r.Plan(ctx, "kforge.tfplan", false); err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(ctx, shown, nil); err == nil || !strings.Contains(err.Error(), "no longer the one shown") {
		t.Fatalf("apply of a plan rewritten since: %v, want a refusal", err)
	}
	if _, err := r.FullPlan(ctx, shown); err == nil {
		t.Error("FullPlan read a plan rewritten since")
	}
	if _, err := os.Stat(filepath.Join(dir, "terraform.tfstate")); err == nil {
		t.Error("something was applied")
	}
}

// initRunner is a Runner over the configuration in dir, after terraform
// init there.
func initRunner(t *testing.T, ctx context.Context, dir string) *Runner {
	t.Helper()
	bin, _, err := FindTerraform(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	if err := tf.Init(ctx); err != nil {
		t.Fatalf("terraform init: %v", err)
	}
	return &Runner{dir: dir, logDir: filepath.Join(dir, "logs"), tf: tf}
}
