package cluster

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/kforge/kforge/internal/awsx"
)

// PoolStatus is an Auto Scaling Group's live capacity.
type PoolStatus struct {
	Pool      string `json:"pool"`
	ASG       string `json:"asg"`
	Min       int32  `json:"min"`
	Desired   int32  `json:"desired"`
	Max       int32  `json:"max"`
	InService int    `json:"in_service"`
	Instances int    `json:"instances"`
}

// TargetGroupStatus counts a target group's targets by health state.
type TargetGroupStatus struct {
	Name    string         `json:"name"`
	ARN     string         `json:"arn"`
	Targets int            `json:"targets"`
	States  map[string]int `json:"states"`
}

// InstanceStatus is one control-plane instance.
type InstanceStatus struct {
	ID        string `json:"id"`
	State     string `json:"state"`
	Lifecycle string `json:"lifecycle_state"`
	Health    string `json:"health"`
}

// Status is what `kforge status` reports.
type Status struct {
	Env          string              `json:"environment"`
	Outputs      Outputs             `json:"outputs"`
	ControlPlane PoolStatus          `json:"control_plane"`
	Controllers  []InstanceStatus    `json:"control_plane_instances"`
	Pools        []PoolStatus        `json:"worker_pools"`
	TargetGroups []TargetGroupStatus `json:"target_groups"`
	// Images are the images the launch templates boot (images.go); a
	// note says when they were not read.
	Images []ImageStatus `json:"images"`
	// KeyState is the cluster key's (clusterkey.go): Enabled, Disabled,
	// PendingDeletion...
	KeyState string `json:"key_state,omitempty"`
	// EFSBackups is the file system's backup policy (efsbackups.go):
	// ENABLED, DISABLED... or "none".
	EFSBackups string `json:"efs_backups,omitempty"`
	// Problems are what the running nodes do not show: an image or the
	// key keeping new nodes from launching, or the file system's backups
	// off (status still succeeds). Notes are the deprecated images, and
	// the reads that were refused.
	Problems []string        `json:"problems,omitempty"`
	Notes    []string        `json:"notes,omitempty"`
	Emulator *EmulatorRecord `json:"emulator,omitempty"`
	Note     string          `json:"note,omitempty"`
}

// RunStatus reports the applied cluster's outputs and live facts: ASG
// capacity, control-plane instances, NLB target health, the nodes' images,
// the cluster key's state and the file system's backups.
func RunStatus(ctx context.Context, e *Env) (*Status, error) {
	out, err := e.AppliedOutputs(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	st, err := liveStatus(ctx, cfg, out)
	if err != nil {
		return nil, err
	}
	// A refused read is a note: the rest of the status stands.
	if st.Images, err = imageStatuses(ctx, ec2.NewFromConfig(cfg), poolImages(out)); err != nil {
		st.Notes = append(st.Notes, fmt.Sprintf("the nodes' images were not read: %v", err))
	}
	problems, notes := imageFindings(st.Images, imageFix(e.Name, e.Config.AMIID), time.Now())
	st.Problems, st.Notes = append(st.Problems, problems...), append(st.Notes, notes...)
	if out.KMSKeyARN != "" {
		if st.KeyState, err = clusterKeyState(ctx, kms.NewFromConfig(cfg), out.KMSKeyARN); err != nil {
			st.Notes = append(st.Notes, err.Error())
		} else if p := keyProblem(st.KeyState, out.KMSKeyARN); p != "" {
			st.Problems = append(st.Problems, p)
		}
	}
	if out.EFSID != "" {
		if st.EFSBackups, err = efsBackupState(ctx, efs.NewFromConfig(cfg), out.EFSID); err != nil {
			st.Notes = append(st.Notes, err.Error())
		} else if p := efsBackupProblem(st.EFSBackups, e.Config.EFSBackups && !out.Emulated, e.Name, out.EFSID); p != "" {
			st.Problems = append(st.Problems, p)
		}
	}
	st.Env, st.Emulator, st.Note = e.Name, e.Emulator, e.EmulatorNote()
	return st, nil
}

// liveStatus asks AWS about the ASGs, target groups and control-plane instances.
func liveStatus(ctx context.Context, cfg aws.Config, out *Outputs) (*Status, error) {
	st := &Status{Outputs: *out}
	asgClient := autoscaling.NewFromConfig(cfg)
	names := []string{out.ControllerASGName}
	pools := slices.Sorted(maps.Keys(out.WorkerASGNames))
	for _, p := range pools {
		names = append(names, out.WorkerASGNames[p])
	}
	groups, err := awsx.DescribeAutoScalingGroups(ctx, asgClient, names)
	if err != nil {
		return nil, err
	}
	byName := map[string]PoolStatus{}
	var controllerIDs []string
	health := map[string][2]string{}
	for _, g := range groups {
		ps := PoolStatus{ASG: aws.ToString(g.AutoScalingGroupName), Min: aws.ToInt32(g.MinSize), Desired: aws.ToInt32(g.DesiredCapacity), Max: aws.ToInt32(g.MaxSize), Instances: len(g.Instances)}
		for _, i := range g.Instances {
			if string(i.LifecycleState) == "InService" {
				ps.InService++
			}
			if ps.ASG == out.ControllerASGName {
				id := aws.ToString(i.InstanceId)
				controllerIDs = append(controllerIDs, id)
				health[id] = [2]string{string(i.LifecycleState), aws.ToString(i.HealthStatus)}
			}
		}
		byName[ps.ASG] = ps
	}
	st.ControlPlane = byName[out.ControllerASGName]
	st.ControlPlane.Pool, st.ControlPlane.ASG = "control-plane", out.ControllerASGName
	for _, p := range pools {
		ps := byName[out.WorkerASGNames[p]]
		ps.Pool, ps.ASG = p, out.WorkerASGNames[p]
		st.Pools = append(st.Pools, ps)
	}
	if len(controllerIDs) > 0 {
		err := awsx.DescribeInstances(ctx, ec2.NewFromConfig(cfg), controllerIDs, func(i ec2types.Instance) {
			id := aws.ToString(i.InstanceId)
			is := InstanceStatus{ID: id, Lifecycle: health[id][0], Health: health[id][1]}
			if i.State != nil {
				is.State = string(i.State.Name)
			}
			st.Controllers = append(st.Controllers, is)
		})
		if err != nil {
			return nil, fmt.Errorf("control-plane instances: %w", err)
		}
	}
	tgs, err := targetHealth(ctx, elbv2.NewFromConfig(cfg), out.TargetGroupARNs, "unknown")
	if err != nil {
		return nil, err
	}
	st.TargetGroups = tgs
	return st, nil
}
