package terraform

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/hashicorp/terraform-exec/tfexec"
)

// checkNewAgentRollsNothing applies a new agent build to the live cluster
// and checks that it reaches only the launch templates: every Auto Scaling
// group is updated in place without an instance refresh, and keeps exactly
// the instances it had. (Before the refresh was removed this apply also hung
// on StartInstanceRefresh, which the emulator does not implement.)
func checkNewAgentRollsNothing(t *testing.T, ctx context.Context, tf *tfexec.Terraform, c *clients, v clusterVars, out outputs) {
	t.Helper()
	names := []string{out.ControllerASGName}
	for _, n := range out.WorkerASGNames {
		names = append(names, n)
	}
	before := groupInstances(t, ctx, c, names)

	// Another build of the amd64 agent: new bytes, so a new SHA-256 in the
	// user data of every x86 launch template.
	if err := os.WriteFile(v.AgentBinaryPaths["amd64"], randomBytes(t, 6<<20), 0o755); err != nil {
		t.Fatalf("writing the new agent build: %v", err)
	}
	planFile := filepath.Join(t.TempDir(), "agent.tfplan")
	changed, err := tf.Plan(ctx, tfexec.VarFile(v.path), tfexec.Out(planFile))
	if err != nil {
		t.Fatalf("plan with a new agent build: %v", err)
	}
	if !changed {
		t.Fatal("a new agent build planned no change; the check would prove nothing")
	}
	plan, err := tf.ShowPlanFile(ctx, planFile)
	if err != nil {
		t.Fatalf("terraform show of the plan: %v", err)
	}
	templates := 0
	for _, rc := range plan.ResourceChanges {
		switch rc.Type {
		case "aws_launch_template":
			if rc.Change.Actions.Update() {
				templates++
			}
		case "aws_autoscaling_group":
			if rc.Change.Actions.Replace() || rc.Change.Actions.Delete() || rc.Change.Actions.Create() {
				t.Errorf("%s: planned %v; a new agent build must not replace a group", rc.Address, rc.Change.Actions)
			}
			if after, ok := rc.Change.After.(map[string]any); ok {
				if r, _ := after["instance_refresh"].([]any); len(r) > 0 {
					t.Errorf("%s: has an instance_refresh block; a launch template change would replace its instances", rc.Address)
				}
			}
		}
	}
	if templates == 0 {
		t.Fatal("no launch template takes the new agent; the check would prove nothing")
	}
	if err := tf.Apply(ctx, tfexec.DirOrPlan(planFile)); err != nil {
		t.Fatalf("applying the new agent build: %v", err)
	}
	after := groupInstances(t, ctx, c, names)
	for _, name := range names {
		if !slices.Equal(before[name], after[name]) {
			t.Errorf("ASG %s instances changed from %v to %v; a new agent build must reach running nodes only through a roll", name, before[name], after[name])
		}
	}
	t.Logf("new agent build: %d launch templates updated, %d groups kept their instances", templates, len(names))
}

// groupInstances lists each group's instance ids, sorted.
func groupInstances(t *testing.T, ctx context.Context, c *clients, names []string) map[string][]string {
	t.Helper()
	resp, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names})
	if err != nil {
		t.Fatalf("describing ASGs: %v", err)
	}
	ids := map[string][]string{}
	for _, g := range resp.AutoScalingGroups {
		ids[aws.ToString(g.AutoScalingGroupName)] = instanceIDs(g.Instances)
	}
	return ids
}

func instanceIDs(is []asgtypes.Instance) []string {
	var ids []string
	for _, i := range is {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	slices.Sort(ids)
	return ids
}
