package nodelifecycle

import (
	"context"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/testutil/kubeapi"
)

// workerGroupOnEmulator creates an Auto Scaling group of desired
// instances on the emulator and returns its clients.
func workerGroupOnEmulator(t *testing.T, name string, desired int32) (*autoscaling.Client, *ec2.Client) {
	t.Helper()
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	asg, e := autoscaling.NewFromConfig(cfg), ec2.NewFromConfig(cfg)
	lt, err := e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String(name),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Small}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(1), MaxSize: aws.Int32(desired + 2), DesiredCapacity: aws.Int32(desired),
		AvailabilityZones: []string{"us-east-1a"},
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
	}); err != nil {
		t.Fatal(err)
	}
	return asg, e
}

// groupInstances returns the group's desired capacity and its instances.
func groupInstances(t *testing.T, asg *autoscaling.Client, name string) (int32, []string) {
	t.Helper()
	out, err := asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("describing %s: %v", name, err)
	}
	g := out.AutoScalingGroups[0]
	var ids []string
	for _, i := range g.Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	slices.Sort(ids)
	return aws.ToInt32(g.DesiredCapacity), ids
}

// TestReplaceWorkersWithoutNodeAfterARestore: groups and instances on the
// emulator, Nodes in a real kube-apiserver. Of the workers launched before
// the restore, the one that never gets a Node is replaced once the grace
// has passed since it was first found so, and the group keeps its size;
// the one with a Node, the one that registers within the grace, and the
// one launched after the restore stay.
func TestReplaceWorkersWithoutNodeAfterARestore(t *testing.T) {
	const name = "kforge-test-general"
	asg, e := workerGroupOnEmulator(t, name, 3)
	kube := realAPIServer(t)
	ctx := context.Background()
	_, before := groupInstances(t, asg, name)
	if len(before) != 3 {
		t.Fatalf("group holds %v, want 3 instances", before)
	}
	withNode, lost, joining := before[0], before[1], before[2]
	// The emulator's launch times have a resolution of a second.
	time.Sleep(1100 * time.Millisecond)
	restoredAt := time.Now()
	time.Sleep(1100 * time.Millisecond)
	if _, err := asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{AutoScalingGroupName: aws.String(name), DesiredCapacity: aws.Int32(4)}); err != nil {
		t.Fatal(err)
	}
	_, all := groupInstances(t, asg, name)
	var launchedAfter string
	for _, id := range all {
		if !slices.Contains(before, id) {
			launchedAfter = id
		}
	}
	nodes := kubeapi.NewDrainFixture(t, kube, "apps")
	nodes.Node("ip-10-40-1-5.ec2.internal", "us-east-1a", withNode)

	h := &Handler{ASG: asg, Kube: kube, Groups: []string{name}, RejoinGrace: time.Minute}
	now := time.Now()
	for _, at := range []time.Duration{0, 30 * time.Second} {
		replaced, err := h.ReplaceWorkersWithoutNode(ctx, e, restoredAt, now.Add(at))
		if err != nil || len(replaced) != 0 {
			t.Fatalf("within the grace (+%s): replaced %v, %v; want none", at, replaced, err)
		}
	}
	want := []string{lost, joining}
	slices.Sort(want)
	if got := slices.Sorted(maps.Keys(h.nodelessSince)); !slices.Equal(got, want) {
		t.Fatalf("workers found without a Node: %v, want %s and %s (%s was launched after the restore)", got, lost, joining, launchedAfter)
	}
	// The kubelet still bootstrapping at the restore registers in time.
	nodes.Node("ip-10-40-1-7.ec2.internal", "us-east-1a", joining)
	replaced, err := h.ReplaceWorkersWithoutNode(ctx, e, restoredAt, now.Add(61*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(replaced, []string{lost}) {
		t.Fatalf("replaced %v after the grace, want [%s]", replaced, lost)
	}
	desired, left := groupInstances(t, asg, name)
	if desired != 4 || len(left) != 4 || slices.Contains(left, lost) {
		t.Errorf("group after the replacement: desired %d, %v; want 4 instances without %s", desired, left, lost)
	}
	for _, id := range []string{withNode, joining, launchedAfter} {
		if !slices.Contains(left, id) {
			t.Errorf("%s left its group; only %s should have", id, lost)
		}
	}
	if len(h.nodelessSince) != 0 {
		t.Errorf("still tracked: %v", h.nodelessSince)
	}
	// Nothing without a restore.
	if replaced, err := (&Handler{ASG: asg, Kube: kube, Groups: []string{name}}).ReplaceWorkersWithoutNode(ctx, e, time.Time{}, now.Add(time.Hour)); err != nil || replaced != nil {
		t.Errorf("without a restore: replaced %v, %v", replaced, err)
	}
}
