package tfrun

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/kforge/kforge/internal/testutil/golden"
)

func assertGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Assert(t, filepath.Join("testdata", name), got)
}

func TestBackendHCL(t *testing.T) {
	cases := []struct {
		golden string
		b      Backend
	}{
		{"backend-aws.tfbackend", Backend{Bucket: "kforge-state-123456789012-eu-west-1", Key: "demo/dev/terraform.tfstate", Region: "eu-west-1"}},
		{"backend-endpoint.tfbackend", Backend{Bucket: "kforge-state-123456789012-us-east-1", Key: "demo/local/terraform.tfstate", Region: "us-east-1", Endpoint: "http://127.0.0.1:5000"}},
	}
	for _, c := range cases {
		t.Run(c.golden, func(t *testing.T) { assertGolden(t, c.golden, backendHCL(c.b)) })
	}
}

func TestStageKeepsTerraformFilesAndRewritesOnlyChanges(t *testing.T) {
	dir := t.TempDir()
	fsys := fstest.MapFS{
		"cluster/main.tf":          {Data: []byte("# main\n")},
		"modules/net/main.tf":      {Data: []byte("# net\n")},
		"cluster/terraform.tfvars": {Data: []byte("secret = 1\n")}, // never shipped
	}
	changed, err := Stage(fsys, dir)
	if err != nil || !changed {
		t.Fatalf("first Stage: changed=%v err=%v, want true, nil", changed, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "cluster/terraform.tfvars")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a .tfvars file from the tree was staged")
	}
	// What Terraform and kforge keep in the workdir must survive.
	keep := []string{"cluster/.terraform/providers/x", "cluster/.terraform.lock.hcl", "cluster/" + TFVarsFile, "cluster/" + BackendFile, "cluster/kforge.tfplan"}
	for _, k := range keep {
		p := filepath.Join(dir, k)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	stale := filepath.Join(dir, "modules/old/main.tf")
	os.MkdirAll(filepath.Dir(stale), 0o755)
	os.WriteFile(stale, []byte("# removed module\n"), 0o644)

	info, _ := os.Stat(filepath.Join(dir, "cluster/main.tf"))
	changed, err = Stage(fsys, dir)
	if err != nil || !changed {
		t.Fatalf("second Stage: changed=%v err=%v, want true (stale module removed)", changed, err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("stale module file was not removed")
	}
	for _, k := range keep {
		if _, err := os.Stat(filepath.Join(dir, k)); err != nil {
			t.Errorf("%s was removed: %v", k, err)
		}
	}
	after, _ := os.Stat(filepath.Join(dir, "cluster/main.tf"))
	if !after.ModTime().Equal(info.ModTime()) {
		t.Errorf("unchanged file was rewritten")
	}
	if changed, err := Stage(fsys, dir); err != nil || changed {
		t.Fatalf("third Stage: changed=%v err=%v, want false, nil", changed, err)
	}
	fsys["cluster/main.tf"] = &fstest.MapFile{Data: []byte("# main v2\n")}
	if changed, err := Stage(fsys, dir); err != nil || !changed {
		t.Fatalf("Stage after a change: changed=%v err=%v, want true", changed, err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "cluster/main.tf")); string(b) != "# main v2\n" {
		t.Errorf("changed file not rewritten: %q", b)
	}
}

func TestParseVersion(t *testing.T) {
	cases := []struct {
		out     string
		want    string
		wantErr bool
	}{
		{"Terraform v1.11.4\non linux_amd64\n", "1.11.4", false},
		{"Terraform v1.10.0-beta1\non linux_amd64\n", "1.10.0-beta1", false},
		{"OpenTofu v1.8.0\n", "", true},
	}
	for _, c := range cases {
		v, err := parseVersion(c.out)
		if (err != nil) != c.wantErr {
			t.Errorf("parseVersion(%q) err = %v, wantErr %v", c.out, err, c.wantErr)
			continue
		}
		if err == nil && v.String() != c.want {
			t.Errorf("parseVersion(%q) = %s, want %s", c.out, v, c.want)
		}
	}
	old, _ := parseVersion("Terraform v1.9.8\n")
	if !old.LessThan(MinTerraformVersion) {
		t.Errorf("1.9.8 must be below the minimum %s", MinTerraformVersion)
	}
}

// lockText is what Terraform 1.11 prints when the S3 lock file is taken.
const lockText = `Error: Error acquiring the state lock

Error message: operation error S3: PutObject, https response error StatusCode: 412, PreconditionFailed
Lock Info:
  ID:        5b0c0a3e-1f7b-2f4e-9d2a-7d3c1a2b3c4d
  Path:      kforge-state-123456789012-us-east-1/kforge-local/local/terraform.tfstate
  Operation: OperationTypeApply
  Who:       alice@laptop
  Version:   1.11.4
  Created:   2026-11-25 10:00:00.000000000 +0000 UTC
  Info:

Terraform acquires a state lock to protect the state from being written
by multiple users at the same time.`

func TestParseLockError(t *testing.T) {
	le := parseLockError("local", lockText)
	if le == nil {
		t.Fatal("lock error not recognised")
	}
	if le.ID != "5b0c0a3e-1f7b-2f4e-9d2a-7d3c1a2b3c4d" || le.Who != "alice@laptop" || le.Operation != "OperationTypeApply" {
		t.Errorf("parsed %+v", le)
	}
	msg := le.Error()
	for _, want := range []string{"kforge unlock local 5b0c0a3e-1f7b-2f4e-9d2a-7d3c1a2b3c4d", "alice@laptop", "locked"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if parseLockError("local", "Error: Invalid provider configuration") != nil {
		t.Errorf("an unrelated error was taken for a lock error")
	}
}

func TestExplainFindsLockInDiagnostics(t *testing.T) {
	var d Diagnostics
	d.Write([]byte(`{"@level":"error","type":"diagnostic","diagnostic":{"severity":"error","summary":"Error acquiring the state lock","detail":"Error message: 412\nLock Info:\n  ID:        abc-123\n  Path:      b/k\n  Operation: OperationTypeApply\n  Who:       bob@ci\n"}}` + "\n"))
	r := &Runner{opts: Options{EnvName: "dev"}}
	err := r.explain("apply", errors.New("exit status 1"), &d)
	var le *LockError
	if !errors.As(err, &le) || le.ID != "abc-123" {
		t.Fatalf("explain = %v, want a LockError with id abc-123", err)
	}
}

func TestSummarize(t *testing.T) {
	rc := func(module, addr string, actions ...tfjson.Action) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Address: addr, ModuleAddress: module, Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: actions}}
	}
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		rc("module.network", "a", tfjson.ActionCreate),
		rc("module.network", "b", tfjson.ActionCreate),
		rc("module.ingress", "c", tfjson.ActionUpdate),
		rc("module.ingress", "d", tfjson.ActionDelete, tfjson.ActionCreate),
		rc("module.ingress", "e", tfjson.ActionCreate, tfjson.ActionDelete),
		rc("", "f", tfjson.ActionDelete),
		rc("module.iam", "g", tfjson.ActionNoop),
		{Address: "data.x", Mode: tfjson.DataResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionRead}}},
	}, ResourceDrift: []*tfjson.ResourceChange{
		// Found deleted, so created again: named. Updated outside (an EFS
		// file system's size): routine, not named.
		rc("module.storage", "module.storage.aws_efs_file_system.this", tfjson.ActionUpdate),
		rc("module.kms", "module.kms.aws_kms_key.cluster", tfjson.ActionDelete),
		rc("", "aws_s3_bucket.a", tfjson.ActionDelete),
	}}
	s := Summarize(plan)
	if want := []string{"aws_s3_bucket.a", "module.kms.aws_kms_key.cluster"}; !slices.Equal(s.DeletedOutside, want) {
		t.Errorf("DeletedOutside = %q, want %q", s.DeletedOutside, want)
	}
	if line := s.DeletedOutsideLine(); !strings.Contains(line, "deleted outside Terraform, or read as gone): aws_s3_bucket.a, module.kms.aws_kms_key.cluster. The plan creates each again") {
		t.Errorf("DeletedOutsideLine = %q", line)
	}
	want := Summary{
		Modules: []ModuleChanges{
			{Module: "", Destroy: 1},
			{Module: "module.ingress", Change: 1, Replace: 2},
			{Module: "module.network", Add: 2},
		},
		Totals: ModuleChanges{Add: 2, Change: 1, Destroy: 1, Replace: 2},
	}
	if len(s.Modules) != len(want.Modules) || s.Totals != want.Totals {
		t.Fatalf("Summarize = %+v, want %+v", s, want)
	}
	for i := range want.Modules {
		if s.Modules[i] != want.Modules[i] {
			t.Errorf("module %d = %+v, want %+v", i, s.Modules[i], want.Modules[i])
		}
	}
	if s.Total() != 6 {
		t.Errorf("Total = %d, want 6", s.Total())
	}
	if empty := Summarize(&tfjson.Plan{}); empty.Total() != 0 || empty.Modules == nil || empty.DeletedOutside != nil || empty.DeletedOutsideLine() != "" {
		t.Errorf("empty plan summary = %+v, want zero totals and an empty (non-nil) module list", empty)
	}
}

func TestTrackerProgress(t *testing.T) {
	var events []Progress
	tr := newTracker(2, func(p Progress) { events = append(events, p) })
	stream := `{"@level":"info","type":"version","terraform":"1.11.4"}
{"@level":"info","type":"apply_start","hook":{"resource":{"addr":"module.network.aws_vpc.this"},"action":"create"}}
{"@level":"info","type":"apply_progress","hook":{"resource":{"addr":"module.network.aws_vpc.this"},"action":"create","elapsed_seconds":10}}
{"@level":"info","type":"apply_complete","hook":{"resource":{"addr":"module.network.aws_vpc.this"},"action":"create"}}
{"@level":"info","type":"apply_start","hook":{"resource":{"addr":"module.ingress.aws_lb.this"},"action":"create"}}
{"@level":"error","type":"apply_errored","hook":{"resource":{"addr":"module.ingress.aws_lb.this"},"action":"create"}}
{"@level":"error","type":"diagnostic","diagnostic":{"severity":"error","summary":"creating ELBv2 Load Balancer","detail":"boom","address":"module.ingress.aws_lb.this"}}
`
	// Written in uneven chunks, as a pipe delivers it.
	for i := 0; i < len(stream); i += 37 {
		end := min(i+37, len(stream))
		tr.Write([]byte(stream[i:end]))
	}
	kinds := []string{}
	for _, e := range events {
		kinds = append(kinds, e.Event)
	}
	if got := strings.Join(kinds, ","); got != "start,progress,complete,start,errored" {
		t.Fatalf("events = %s", got)
	}
	last := events[len(events)-1]
	if last.Done != 2 || last.Total != 2 || last.Resource != "module.ingress.aws_lb.this" {
		t.Errorf("last event = %+v", last)
	}
	if errs := tr.diags.Errors(); len(errs) != 1 || errs[0].Summary != "creating ELBv2 Load Balancer" {
		t.Errorf("diagnostics = %+v", errs)
	}
}

func TestTrackerTotalFromPlannedChanges(t *testing.T) {
	var last Progress
	tr := newTracker(0, func(p Progress) { last = p })
	tr.Write([]byte(`{"type":"planned_change","change":{"resource":{"addr":"a"},"action":"delete"}}
{"type":"planned_change","change":{"resource":{"addr":"b"},"action":"delete"}}
{"type":"planned_change","change":{"resource":{"addr":"c"},"action":"read"}}
{"type":"apply_start","hook":{"resource":{"addr":"data.aws_region.current"},"action":"read"}}
{"type":"apply_complete","hook":{"resource":{"addr":"data.aws_region.current"},"action":"read"}}
{"type":"apply_complete","hook":{"resource":{"addr":"a"},"action":"delete"}}
`))
	if last.Total != 2 || last.Done != 1 {
		t.Errorf("last = %+v, want done 1 of 2", last)
	}
}

// A replaced resource counts as done once, when its second half
// completes, as real Terraform's apply stream of a replace goes (planned
// change "replace", then delete and create, each started and completed).
func TestTrackerCountsAReplaceOnce(t *testing.T) {
	var events []Progress
	tr := newTracker(2, func(p Progress) { events = append(events, p) })
	tr.Write([]byte(`{"type":"planned_change","change":{"resource":{"addr":"a"},"action":"replace"}}
{"type":"planned_change","change":{"resource":{"addr":"b"},"action":"update"}}
{"type":"apply_start","hook":{"resource":{"addr":"a"},"action":"delete"}}
{"type":"apply_complete","hook":{"resource":{"addr":"a"},"action":"delete"}}
{"type":"apply_start","hook":{"resource":{"addr":"a"},"action":"create"}}
{"type":"apply_complete","hook":{"resource":{"addr":"a"},"action":"create"}}
{"type":"apply_complete","hook":{"resource":{"addr":"b"},"action":"update"}}
`))
	var done []int
	for _, e := range events {
		if e.Event == "complete" {
			done = append(done, e.Done)
		}
		if e.Total != 2 {
			t.Errorf("%+v: total %d, want 2", e, e.Total)
		}
	}
	if !slices.Equal(done, []int{0, 1, 2}) {
		t.Errorf("done at each completion = %v, want 0 (the replace's delete), 1, 2", done)
	}
}
