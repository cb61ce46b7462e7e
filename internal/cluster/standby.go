package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/awsx"
)

// With Terminate suspended no scale-in terminates an instance. An instance
// leaving Standby goes through Pending, the launch path, and AWS does not
// say whether it may while Launch is suspended: Launch is resumed too when
// the group has instances in Standby (the destroy sets the group to 0
// right after, so nothing stays launched).
const (
	terminateProcess = "Terminate"
	launchProcess    = "Launch"
)

// maxStandbyIDs is how many instances one ExitStandby call takes.
const maxStandbyIDs = 20

// heldGroup is an Auto Scaling group of the state that Terraform's
// destroy could not empty as it is: the provider sets the group to 0 and
// waits until it lists no instance, and a scale-in never terminates an
// instance in Standby, nor any instance while Terminate is suspended. The
// destroy then fails after ten minutes, on every down until someone puts
// the group right by hand.
type heldGroup struct {
	Name      string
	Standby   []string
	Suspended []string
}

// heldGroups reads the state's Auto Scaling groups and returns those an
// operator has held: instances put in Standby (docs/OPERATIONS.md, "Rolling
// nodes") or processes suspended. RunDown names them before its
// confirmation and releases them before the destroy.
func (e *Env) heldGroups(ctx context.Context, client autoscaling.DescribeAutoScalingGroupsAPIClient, st *tfjson.State) ([]heldGroup, error) {
	names := groupNamesInState(st)
	if len(names) == 0 {
		return nil, nil
	}
	groups, err := awsx.DescribeAutoScalingGroups(ctx, client, names)
	if err != nil {
		return nil, fmt.Errorf("cluster %s: %w", e.Config.Name, err)
	}
	var held []heldGroup
	for _, g := range groups {
		h := heldGroup{Name: aws.ToString(g.AutoScalingGroupName)}
		for _, i := range g.Instances {
			if i.LifecycleState == asgtypes.LifecycleStateStandby {
				h.Standby = append(h.Standby, aws.ToString(i.InstanceId))
			}
		}
		for _, p := range g.SuspendedProcesses {
			name := aws.ToString(p.ProcessName)
			if name == terminateProcess || name == launchProcess && len(h.Standby) > 0 {
				h.Suspended = append(h.Suspended, name)
			}
		}
		if len(h.Standby) > 0 || len(h.Suspended) > 0 {
			slices.Sort(h.Standby)
			slices.Sort(h.Suspended)
			held = append(held, h)
		}
	}
	slices.SortFunc(held, func(a, b heldGroup) int { return strings.Compare(a.Name, b.Name) })
	return held, nil
}

// describeHeld is the line RunDown prints before its confirmation.
func describeHeld(held []heldGroup) string {
	var parts []string
	for _, h := range held {
		var what []string
		if len(h.Standby) > 0 {
			what = append(what, "instances in Standby "+strings.Join(h.Standby, ", "))
		}
		if len(h.Suspended) > 0 {
			what = append(what, "the suspended processes "+strings.Join(h.Suspended, ", "))
		}
		parts = append(parts, h.Name+": "+strings.Join(what, " and "))
	}
	return fmt.Sprintf("Auto Scaling groups held out of a scale-in (%s) are put back in service and resumed before the destroy, which terminates every instance of a group before deleting it.\n", strings.Join(parts, "; "))
}

// releaseHeld resumes the suspended processes first and then puts the
// Standby instances back in service, where the destroy's scale-in
// terminates them.
func releaseHeld(ctx context.Context, client groupReleaser, held []heldGroup) error {
	for _, h := range held {
		if len(h.Suspended) > 0 {
			if _, err := client.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{AutoScalingGroupName: aws.String(h.Name), ScalingProcesses: h.Suspended}); err != nil {
				return fmt.Errorf("resuming %s in auto scaling group %s: %w", strings.Join(h.Suspended, ", "), h.Name, err)
			}
		}
		for ids := range slices.Chunk(h.Standby, maxStandbyIDs) {
			if _, err := client.ExitStandby(ctx, &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String(h.Name), InstanceIds: ids}); err != nil {
				return fmt.Errorf("taking %s of auto scaling group %s out of Standby: %w", strings.Join(ids, ", "), h.Name, err)
			}
		}
	}
	return nil
}

// groupReleaser is the part of the Auto Scaling API releaseHeld calls.
type groupReleaser interface {
	ResumeProcesses(context.Context, *autoscaling.ResumeProcessesInput, ...func(*autoscaling.Options)) (*autoscaling.ResumeProcessesOutput, error)
	ExitStandby(context.Context, *autoscaling.ExitStandbyInput, ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error)
}

// autoScaling is an Auto Scaling client for the environment's region.
func (e *Env) autoScaling(ctx context.Context) (*autoscaling.Client, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return autoscaling.NewFromConfig(cfg), nil
}

// groupNamesInState are the names of the Auto Scaling groups in the state.
func groupNamesInState(st *tfjson.State) []string {
	return managedAttributes(st, "aws_autoscaling_group", "name")
}
