package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/spf13/cobra"

	"github.com/kforge/kforge/internal/cluster"
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

// ClusterStatus is what `kforge status` reports.
type ClusterStatus struct {
	Env          string              `json:"environment"`
	Outputs      cluster.Outputs     `json:"outputs"`
	ControlPlane PoolStatus          `json:"control_plane"`
	Controllers  []InstanceStatus    `json:"control_plane_instances"`
	Pools        []PoolStatus        `json:"worker_pools"`
	TargetGroups []TargetGroupStatus `json:"target_groups"`
	Emulator     *EmulatorRecord     `json:"emulator,omitempty"`
	Note         string              `json:"note,omitempty"`
}

func newStatusCmd(app *App) *cobra.Command {
	return &cobra.Command{
		Use:   "status <env>",
		Short: "Show the cluster's outputs and live facts: ASG capacity, NLB target health, control-plane instance",
		Args:  envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			e, err := app.OpenEnv(ctx, args[0])
			if err != nil {
				return err
			}
			out, ok, err := e.Outputs(ctx)
			if err != nil {
				return err
			}
			if !ok {
				return &ExitError{Code: ExitFailure, Err: fmt.Errorf("environment %q has no applied cluster: run `kforge up %s`", e.Name, e.Name)}
			}
			cfg, err := e.AWSConfig(ctx)
			if err != nil {
				return err
			}
			st, err := liveStatus(ctx, cfg, out)
			if err != nil {
				return err
			}
			st.Env, st.Emulator, st.Note = e.Name, e.Emulator, e.EmulatorNote()
			if app.JSON() {
				return app.PrintJSON(st)
			}
			app.printStatus(st)
			return nil
		},
	}
}

// liveStatus asks AWS about the ASGs, target groups and control-plane instances.
func liveStatus(ctx context.Context, cfg aws.Config, out *cluster.Outputs) (*ClusterStatus, error) {
	st := &ClusterStatus{Outputs: *out}
	asgClient := autoscaling.NewFromConfig(cfg)
	names := []string{out.ControllerASGName}
	pools := sortedKeys(out.WorkerASGNames)
	for _, p := range pools {
		names = append(names, out.WorkerASGNames[p])
	}
	resp, err := asgClient.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names})
	if err != nil {
		return nil, fmt.Errorf("describing auto scaling groups: %w", err)
	}
	byName := map[string]PoolStatus{}
	var controllerIDs []string
	health := map[string][2]string{}
	for _, g := range resp.AutoScalingGroups {
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
		inst, err := ec2.NewFromConfig(cfg).DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: controllerIDs})
		if err != nil {
			return nil, fmt.Errorf("describing control-plane instances: %w", err)
		}
		for _, r := range inst.Reservations {
			for _, i := range r.Instances {
				id := aws.ToString(i.InstanceId)
				is := InstanceStatus{ID: id, Lifecycle: health[id][0], Health: health[id][1]}
				if i.State != nil {
					is.State = string(i.State.Name)
				}
				st.Controllers = append(st.Controllers, is)
			}
		}
	}
	lb := elbv2.NewFromConfig(cfg)
	for _, name := range sortedKeys(out.TargetGroupARNs) {
		arn := out.TargetGroupARNs[name]
		th, err := lb.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)})
		if err != nil {
			return nil, fmt.Errorf("describing target health of %s: %w", name, err)
		}
		tg := TargetGroupStatus{Name: name, ARN: arn, States: map[string]int{}}
		for _, d := range th.TargetHealthDescriptions {
			tg.Targets++
			state := "unknown"
			if d.TargetHealth != nil {
				state = string(d.TargetHealth.State)
			}
			tg.States[state]++
		}
		st.TargetGroups = append(st.TargetGroups, tg)
	}
	return st, nil
}

func (app *App) printStatus(st *ClusterStatus) {
	app.Table(outputRows(&st.Outputs))
	app.Printf("\n")
	rows := [][]string{{"POOL", "ASG", "MIN", "DESIRED", "MAX", "IN SERVICE"}}
	for _, p := range append([]PoolStatus{st.ControlPlane}, st.Pools...) {
		rows = append(rows, []string{p.Pool, p.ASG, fmt.Sprint(p.Min), fmt.Sprint(p.Desired), fmt.Sprint(p.Max), fmt.Sprint(p.InService)})
	}
	app.Table(rows)
	app.Printf("\n")
	rows = [][]string{{"CONTROL-PLANE INSTANCE", "STATE", "LIFECYCLE", "HEALTH"}}
	for _, c := range st.Controllers {
		rows = append(rows, []string{c.ID, c.State, c.Lifecycle, c.Health})
	}
	if len(st.Controllers) == 0 {
		rows = append(rows, []string{"(none)", "", "", ""})
	}
	app.Table(rows)
	app.Printf("\n")
	rows = [][]string{{"TARGET GROUP", "TARGETS", "HEALTH"}}
	for _, tg := range st.TargetGroups {
		var parts []string
		for _, s := range sortedKeys(tg.States) {
			parts = append(parts, fmt.Sprintf("%s=%d", s, tg.States[s]))
		}
		rows = append(rows, []string{tg.Name, fmt.Sprint(tg.Targets), strings.Join(parts, " ")})
	}
	app.Table(rows)
	if st.Note != "" {
		app.Printf("\n%s\n", st.Note)
	}
}
