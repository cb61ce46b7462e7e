package cluster

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
)

// A launch template change (a new agent build, a Kubernetes version, an
// etcd quota, an instance type) reaches only instances launched after it:
// the groups have no instance refresh, so that no node goes without a
// drain. After an up, the instances still on an older version are named,
// with the roll that replaces them, as kOps names the rolling update an
// update needs.

// OutdatedGroup is a group whose instances run an older launch template
// than the group launches now.
type OutdatedGroup struct {
	Pool      string `json:"pool"`
	Instances int    `json:"instances"`
	// Reason is the first outdated instance's, as `kforge roll` gives it.
	Reason string `json:"reason"`
	// Roll is the command that replaces them.
	Roll string `json:"roll"`
}

// outdatedGroups reads the groups (pool name -> group name) as a roll's
// plan does, changing nothing, and returns those with outdated instances.
// A control plane whose template differs by the Kubernetes version alone
// is not outdated: its node upgrades itself in place (kforge upgrade's
// kubeadm upgrade apply), and a roll would only cost API downtime.
func outdatedGroups(ctx context.Context, r *roller, targets map[string]string, env string) ([]OutdatedGroup, error) {
	plan, err := r.plan(ctx, targets)
	if err != nil {
		return nil, err
	}
	return outdatedInPlan(plan, env), nil
}

// outdatedInPlan is outdatedGroups over a roll's plan already read.
func outdatedInPlan(plan *RollResult, env string) []OutdatedGroup {
	var out []OutdatedGroup
	for _, g := range plan.Groups {
		replace := g.Replace
		roll := fmt.Sprintf("kforge roll %s --pool %s", env, g.Pool)
		if g.Pool == ControlPlanePool {
			replace = slices.DeleteFunc(slices.Clone(replace), func(i RollInstance) bool { return i.kubernetesOnly })
			roll = fmt.Sprintf("kforge roll %s --control-plane", env)
		}
		if len(replace) > 0 {
			out = append(out, OutdatedGroup{Pool: g.Pool, Instances: len(replace), Reason: replace[0].Reason, Roll: roll})
		}
	}
	return out
}

// noteOutdated names, in notes, the groups whose instances an up left on
// an older launch template. A failed read is a note too: the apply
// succeeded, and `kforge roll --dry-run` reads the same.
func (e *Env) noteOutdated(ctx context.Context, out *Outputs) []OutdatedGroup {
	r, err := e.groupReader(ctx)
	var outdated []OutdatedGroup
	if err == nil {
		outdated, err = outdatedGroups(ctx, r, out.Groups(), e.Name)
	}
	if err != nil {
		e.opts.UI.Notef("note: the instances were not compared with their groups' launch templates: %v\n", err)
		return nil
	}
	for _, g := range outdated {
		e.opts.UI.Notef("note: %s: %d instance(s) run an older launch template than the group's (%s); `%s` replaces them\n", g.Pool, g.Instances, g.Reason, g.Roll)
	}
	return outdated
}

// groupReader is a roller that only reads the groups and their launch
// templates: the plan of a roll, without its options.
func (e *Env) groupReader(ctx context.Context) (*roller, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	return &roller{asg: autoscaling.NewFromConfig(cfg), ec2: ec2.NewFromConfig(cfg), ui: e.opts.UI}, nil
}
