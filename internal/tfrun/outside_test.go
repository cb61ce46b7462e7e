package tfrun

import (
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func TestUndoneOutside(t *testing.T) {
	managed := func(addr string, before, after any, actions ...tfjson.Action) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Address: addr, Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: actions, Before: before, After: after}}
	}
	obj := func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	unknownTags := managed("aws_lb.unknown", obj("tags", obj("a", "1"), "tags_all", obj("a", "1")), obj("tags", nil, "tags_all", nil), tfjson.ActionUpdate)
	unknownTags.Change.AfterUnknown = obj("tags", obj("a", true), "tags_all", true)
	plan := &tfjson.Plan{
		ResourceDrift: []*tfjson.ResourceChange{
			// An ingress rule and a tag added by hand; the plan removes both,
			// and names the tag by its key.
			managed("module.ingress.aws_security_group.nlb", obj("ingress", []any{}, "tags", obj("a", "1"), "name", "n"), obj("ingress", []any{"22"}, "tags", obj("a", "1", "b", "2"), "name", "n"), tfjson.ActionUpdate),
			// A capacity set by Cluster Autoscaler, ignored by the
			// configuration; the plan changes the group's max only.
			managed("aws_autoscaling_group.pool", obj("desired_capacity", 1.0, "max_size", 3.0), obj("desired_capacity", 4.0, "max_size", 3.0), tfjson.ActionUpdate),
			// Changed outside, left alone by the plan.
			managed("aws_efs_file_system.this", obj("size", 1.0), obj("size", 9.0), tfjson.ActionUpdate),
			// Changed outside, and the plan's new value is not known yet:
			// one tag's, and a whole map's.
			managed("aws_lb.unknown", obj("tags", obj("a", "0"), "tags_all", obj("a", "0")), obj("tags", obj("a", "1"), "tags_all", obj("a", "1")), tfjson.ActionUpdate),
			// A data source read anew is no change outside.
			{Address: "data.aws_ami.x", Mode: tfjson.DataResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: obj("id", "1"), After: obj("id", "2")}},
			// Replaced: every attribute changed outside is set again.
			managed("aws_instance.replaced", obj("ami", "a"), obj("ami", "b"), tfjson.ActionUpdate),
			// A session lengthened and a description changed by hand; the
			// configuration changed the description too, so the plan sets
			// the session back and the description to its new value.
			managed("aws_iam_role.both", obj("description", "old", "max_session_duration", 3600.0), obj("description", "by hand", "max_session_duration", 7200.0), tfjson.ActionUpdate),
			// Tags read as empty where they were null, and planned null
			// again: no tag changed, so nothing is named.
			managed("aws_sqs_queue.empty", obj("tags", nil), obj("tags", obj()), tfjson.ActionUpdate),
		},
		ResourceChanges: []*tfjson.ResourceChange{
			managed("module.ingress.aws_security_group.nlb", obj("ingress", []any{"22"}, "tags", obj("a", "1", "b", "2"), "name", "n"), obj("ingress", []any{}, "tags", obj("a", "1"), "name", "n"), tfjson.ActionUpdate),
			managed("aws_autoscaling_group.pool", obj("desired_capacity", 4.0, "max_size", 3.0), obj("desired_capacity", 4.0, "max_size", 5.0), tfjson.ActionUpdate),
			managed("aws_efs_file_system.this", obj("size", 9.0), obj("size", 9.0), tfjson.ActionNoop),
			unknownTags,
			{Address: "data.aws_ami.x", Mode: tfjson.DataResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionRead}}},
			managed("aws_instance.replaced", obj("ami", "b"), obj("ami", "a"), tfjson.ActionDelete, tfjson.ActionCreate),
			managed("aws_iam_role.both", obj("description", "by hand", "max_session_duration", 7200.0), obj("description", "new", "max_session_duration", 3600.0), tfjson.ActionUpdate),
			managed("aws_sqs_queue.empty", obj("tags", obj()), obj("tags", nil), tfjson.ActionUpdate),
		},
	}
	want := []OutsideChange{
		{Address: "aws_iam_role.both", Attributes: []string{"description", "max_session_duration"}, Reconfigured: []string{"description"}},
		{Address: "aws_instance.replaced", Attributes: []string{"ami"}},
		{Address: "aws_lb.unknown", Attributes: []string{`tags["a"]`, "tags_all"}, Reconfigured: []string{`tags["a"]`, "tags_all"}},
		{Address: "module.ingress.aws_security_group.nlb", Attributes: []string{"ingress", `tags["b"]`}},
	}
	s := Summarize(plan)
	if !reflect.DeepEqual(s.UndoneOutside, want) {
		t.Errorf("UndoneOutside = %+v\nwant %+v", s.UndoneOutside, want)
	}
	undone := s.UndoneOutsideLine()
	if !strings.Contains(undone, "set back by this plan: aws_iam_role.both (max_session_duration), aws_instance.replaced (ami), module.ingress.aws_security_group.nlb (ingress, tags[\"b\"]). Applying undoes") {
		t.Errorf("UndoneOutsideLine = %q", undone)
	}
	reconfigured := s.ReconfiguredOutsideLine()
	if !strings.Contains(reconfigured, "changed again by this plan, to a new value from the configuration or one known only at the apply: aws_iam_role.both (description), aws_lb.unknown (tags[\"a\"], tags_all). Applying replaces") {
		t.Errorf("ReconfiguredOutsideLine = %q", reconfigured)
	}
	if lines := s.OutsideLines(); !reflect.DeepEqual(lines, []string{undone, reconfigured}) {
		t.Errorf("OutsideLines = %q, want the two lines", lines)
	}
	onlySetBack := Summary{UndoneOutside: want[1:2]}
	if line := onlySetBack.ReconfiguredOutsideLine(); line != "" {
		t.Errorf("a change only set back has a reconfigured line: %q", line)
	}
	if empty := (Summary{}); empty.UndoneOutsideLine() != "" || empty.ReconfiguredOutsideLine() != "" || empty.OutsideLines() != nil {
		t.Errorf("a summary with nothing outside has lines: %q", empty.OutsideLines())
	}
}

// The stream alone says only whether the full plan must be read: a
// resource both updated outside and updated or replaced by the plan.
func TestPlanStreamNamesWhenToReadTheFullPlan(t *testing.T) {
	line := func(typ, addr, action string) string {
		return `{"type":"` + typ + `","change":{"resource":{"addr":"` + addr + `","module":""},"action":"` + action + `"}}` + "\n"
	}
	cases := []struct {
		name   string
		stream string
		want   bool
	}{
		{"updated outside and by the plan", line("resource_drift", "aws_sqs_queue.q", "update") + line("planned_change", "aws_sqs_queue.q", "update"), true},
		{"updated outside, replaced", line("resource_drift", "aws_sqs_queue.q", "update") + line("planned_change", "aws_sqs_queue.q", "replace"), true},
		{"updated outside, another changed", line("resource_drift", "aws_sqs_queue.q", "update") + line("planned_change", "aws_sqs_queue.r", "update"), false},
		{"deleted outside, created again", line("resource_drift", "aws_sqs_queue.q", "delete") + line("planned_change", "aws_sqs_queue.q", "create"), false},
		{"a data source", line("resource_drift", "data.aws_ami.a", "update") + line("planned_change", "data.aws_ami.a", "update"), false},
	}
	for _, c := range cases {
		var p planStream
		p.Write([]byte(c.stream))
		if got := p.changesWhatChangedOutside(); got != c.want {
			t.Errorf("%s: changesWhatChangedOutside = %t, want %t", c.name, got, c.want)
		}
	}
}

// TestPlanNamesWhatItUndoesOnTheEmulator applies roles with the real AWS
// provider to the emulator, changes them through the IAM API as an
// operator would by hand, and plans: the plan's summary names the role
// whose changes it sets back, with the attributes, names as reconfigured
// the description changed by hand and in the configuration, and leaves
// out the change outside the configuration ignores.
func TestPlanNamesWhatItUndoesOnTheEmulator(t *testing.T) {
	plugins := os.Getenv("KFORGE_PLUGIN_DIR")
	if plugins == "" {
		t.Skip("SKIP (not a pass): terraform init needs the provider mirror (KFORGE_PLUGIN_DIR)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	bin, _, err := FindTerraform(ctx)
	if err != nil {
		t.Skipf("SKIP (not a pass): %v", err)
	}
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	dir := t.TempDir()
	root := func(description string) string {
		return localawstest.ProviderHCL(em.URL(), "us-east-1", "iam") + `resource "aws_iam_role" "undone" {
  name                 = "undone"
  assume_role_policy   = local.ec2
  max_session_duration = 3600
  tags                 = { team = "platform" }
}
resource "aws_iam_role" "ignored" {
  name                 = "ignored"
  assume_role_policy   = local.ec2
  max_session_duration = 3600
  description          = "` + description + `"
  lifecycle {
    ignore_changes = [max_session_duration]
  }
}
locals {
  ec2 = jsonencode({
    Version   = "2012-10-17"
    Statement = [{ Effect = "Allow", Action = "sts:AssumeRole", Principal = { Service = "ec2.amazonaws.com" } }]
  })
}
`
	}
	write := func(text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	tf, err := tfexec.NewTerraform(dir, bin)
	if err != nil {
		t.Fatal(err)
	}
	r := &Runner{dir: dir, logDir: filepath.Join(t.TempDir(), "logs"), tf: tf}
	write(root("first"))
	if err := tf.Init(ctx, tfexec.PluginDir(plugins)); err != nil {
		t.Fatalf("terraform init: %v", err)
	}
	first, err := r.Plan(ctx, "first.tfplan", false)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Apply(ctx, first, nil); err != nil {
		t.Fatal(err)
	}

	// By hand: a longer session on both roles, a tag, and a description.
	client := iam.NewFromConfig(cfg)
	for name, description := range map[string]*string{"undone": nil, "ignored": aws.String("by hand")} {
		_, err := client.UpdateRole(ctx, &iam.UpdateRoleInput{RoleName: aws.String(name), MaxSessionDuration: aws.Int32(7200), Description: description})
		if err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.TagRole(ctx, &iam.TagRoleInput{RoleName: aws.String("undone"), Tags: []iamtypes.Tag{{Key: aws.String("owner"), Value: aws.String("someone")}}}); err != nil {
		t.Fatal(err)
	}

	// The ignored role's description changes in the configuration too:
	// the plan sets it to the new one, not back, and leaves the session
	// the configuration ignores.
	write(root("second"))
	second, err := r.Plan(ctx, "second.tfplan", false)
	if err != nil {
		t.Fatal(err)
	}
	want := []OutsideChange{
		{Address: "aws_iam_role.ignored", Attributes: []string{"description"}, Reconfigured: []string{"description"}},
		{Address: "aws_iam_role.undone", Attributes: []string{"max_session_duration", `tags["owner"]`, `tags_all["owner"]`}},
	}
	if !reflect.DeepEqual(second.Summary.UndoneOutside, want) {
		t.Errorf("UndoneOutside from the plan stream = %+v, want %+v", second.Summary.UndoneOutside, want)
	}
	if second.Summary.Totals.Change != 2 {
		t.Errorf("plan changes %d resources, want both roles", second.Summary.Totals.Change)
	}
	full, err := r.FullPlan(ctx, second)
	if err != nil {
		t.Fatal(err)
	}
	if got := Summarize(full); !reflect.DeepEqual(got, second.Summary) {
		t.Errorf("Summarize(saved plan) = %+v\nstream summary %+v", got, second.Summary)
	}
	if err := r.Apply(ctx, second, nil); err != nil {
		t.Fatal(err)
	}

	// Set back: nothing is changed outside any more.
	third, err := r.Plan(ctx, "third.tfplan", false)
	if err != nil {
		t.Fatal(err)
	}
	if third.Summary.Total() != 0 || third.Summary.UndoneOutside != nil {
		t.Errorf("after the apply: %+v, want no change", third.Summary)
	}
}

// docs/OPERATIONS.md shows the lines as plan prints them.
func TestOutsideLinesAreDocumented(t *testing.T) {
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	s := Summary{
		DeletedOutside: []string{"module.buckets.aws_s3_bucket_lifecycle_configuration.certs"},
		UndoneOutside: []OutsideChange{
			{Address: "module.iam.aws_iam_role.worker", Attributes: []string{"max_session_duration", `tags["owner"]`, `tags_all["owner"]`}},
			{Address: `module.workers.aws_autoscaling_group.this["general"]`, Attributes: []string{"max_size"}, Reconfigured: []string{"max_size"}},
		},
	}
	for _, line := range s.OutsideLines() {
		if !strings.Contains(string(doc), "\n"+line+"\n") {
			t.Errorf("docs/OPERATIONS.md does not show the line as plan prints it:\n%s", line)
		}
	}
}
