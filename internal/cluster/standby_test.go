package cluster

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/config"
)

// An instance in Standby, or a group whose Terminate process is suspended,
// keeps Terraform's destroy waiting for the group to empty until it fails
// (the provider sets the group to 0 and waits for no instance to be left).
// down names such groups of its state, and releases them before the
// destroy; a group outside the state, and processes that keep no instance
// (AZRebalance, which the modules suspend), are left as they are.
func TestDownReleasesGroupsHeldOutOfScaleIn(t *testing.T) {
	const standby, suspended, plain, foreign = "kforge-test-general", "kforge-test-batch", "kforge-test-controller", "other-cluster-general"
	ctx := context.Background()
	f := newRollFixture(t)
	for _, g := range []string{standby, suspended, plain, foreign} {
		f.group(t, g, 2, 3)
	}
	parked := map[string]string{}
	for _, g := range []string{standby, foreign} {
		_, byID, _ := f.versions(t, g)
		for id := range byID {
			parked[g] = max(parked[g], id)
		}
		if _, err := f.asg.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String(g), InstanceIds: []string{parked[g]}, ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
			t.Fatal(err)
		}
	}
	suspend := map[string][]string{standby: {"Launch"}, suspended: {"Terminate", "AZRebalance"}, plain: {"AZRebalance", "Launch"}}
	for g, processes := range suspend {
		if _, err := f.asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String(g), ScalingProcesses: processes}); err != nil {
			t.Fatal(err)
		}
	}

	st := &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{ChildModules: []*tfjson.StateModule{{Resources: []*tfjson.StateResource{}}}}}}
	for _, g := range []string{standby, suspended, plain} {
		mod := st.Values.RootModule.ChildModules[0]
		mod.Resources = append(mod.Resources, &tfjson.StateResource{Address: "module.nodes.aws_autoscaling_group.this[\"" + g + "\"]", Mode: tfjson.ManagedResourceMode,
			Type: "aws_autoscaling_group", AttributeValues: map[string]any{"name": g}})
	}
	e := &Env{Name: "test", Config: &config.Cluster{Name: "kforge-test"}}
	held, err := e.heldGroups(ctx, f.asg, st)
	if err != nil {
		t.Fatal(err)
	}
	want := []heldGroup{
		{Name: suspended, Suspended: []string{"Terminate"}},
		{Name: standby, Standby: []string{parked[standby]}, Suspended: []string{"Launch"}},
	}
	if !slices.EqualFunc(held, want, func(a, b heldGroup) bool {
		return a.Name == b.Name && slices.Equal(a.Standby, b.Standby) && slices.Equal(a.Suspended, b.Suspended)
	}) {
		t.Fatalf("held groups = %+v, want %+v", held, want)
	}
	line := describeHeld(held)
	for _, s := range []string{standby + ": instances in Standby " + parked[standby] + " and the suspended processes Launch", suspended + ": the suspended processes Terminate", "before the destroy"} {
		if !strings.Contains(line, s) {
			t.Errorf("down's line %q does not say %q", line, s)
		}
	}

	if err := releaseHeld(ctx, f.asg, held); err != nil {
		t.Fatal(err)
	}
	groups, err := f.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{standby, suspended, plain, foreign}})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range groups.AutoScalingGroups {
		name := aws.ToString(g.AutoScalingGroupName)
		var inStandby, processes []string
		for _, i := range g.Instances {
			if i.LifecycleState == asgtypes.LifecycleStateStandby {
				inStandby = append(inStandby, aws.ToString(i.InstanceId))
			}
		}
		for _, p := range g.SuspendedProcesses {
			processes = append(processes, aws.ToString(p.ProcessName))
		}
		slices.Sort(processes)
		switch name {
		case standby:
			if len(inStandby) != 0 || len(processes) != 0 || aws.ToInt32(g.DesiredCapacity) != 2 {
				t.Errorf("%s after the release: Standby %v, suspended %v, desired %d; want none, none, and 2 (the instance back in service)", name, inStandby, processes, aws.ToInt32(g.DesiredCapacity))
			}
		case suspended:
			if !slices.Equal(processes, []string{"AZRebalance"}) {
				t.Errorf("%s after the release: suspended %v, want AZRebalance alone", name, processes)
			}
		case plain:
			if !slices.Equal(processes, []string{"AZRebalance", "Launch"}) {
				t.Errorf("%s, which held nothing, after the release: suspended %v, want it untouched", name, processes)
			}
		case foreign:
			if !slices.Equal(inStandby, []string{parked[foreign]}) {
				t.Errorf("%s, outside the state, after the release: Standby %v, want %s left there", name, inStandby, parked[foreign])
			}
		}
	}
}
