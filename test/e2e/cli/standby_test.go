package cli_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"

	"github.com/kforge/kforge/internal/awsx"
)

// holdOutOfScaleIn puts one instance of the first worker pool in Standby
// (its group launches a replacement) and suspends Terminate on the control
// plane's group, as an operator investigating a node might, and returns
// the Standby instance's ID. out is `kforge output --json`.
func holdOutOfScaleIn(t *testing.T, endpoint string, out map[string]any) string {
	t.Helper()
	ctx := context.Background()
	cfg, err := awsx.Config(ctx, "us-east-1", endpoint)
	if err != nil {
		t.Fatal(err)
	}
	client := autoscaling.NewFromConfig(cfg)
	workers, _ := out["worker_asg_names"].(map[string]any)
	pools := make([]string, 0, len(workers))
	for p := range workers {
		pools = append(pools, p)
	}
	slices.Sort(pools)
	if len(pools) == 0 {
		t.Fatalf("no worker_asg_names in the outputs: %v", out)
	}
	group := fmt.Sprint(workers[pools[0]])
	groups, err := client.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{group}})
	if err != nil || len(groups.AutoScalingGroups) != 1 || len(groups.AutoScalingGroups[0].Instances) == 0 {
		t.Fatalf("describing worker group %s: %v (%+v)", group, err, groups)
	}
	parked := aws.ToString(groups.AutoScalingGroups[0].Instances[0].InstanceId)
	if _, err := client.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String(group), InstanceIds: []string{parked}, ShouldDecrementDesiredCapacity: aws.Bool(false)}); err != nil {
		t.Fatal(err)
	}
	controller := fmt.Sprint(out["controller_asg_name"])
	if _, err := client.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String(controller), ScalingProcesses: []string{"Terminate"}}); err != nil {
		t.Fatal(err)
	}
	return parked
}
