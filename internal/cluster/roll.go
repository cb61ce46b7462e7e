package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/tfrun"
)

// ControlPlanePool is the name the roll gives the control plane's group.
const ControlPlanePool = "control-plane"

// RollingTag marks a group whose surge for one instance is in progress: its
// value is the instance being replaced. It lives on the group so that a roll
// interrupted after raising the desired capacity, and run again, terminates
// that instance instead of surging a second time.
const RollingTag = "kforge.io/roll-replacing"

// Strategies of a roll.
const (
	// StrategySurge raises the desired capacity by one, waits for the new
	// instance, then terminates the old one and decrements: capacity never
	// drops below the desired count.
	StrategySurge = "surge"
	// StrategyReplace terminates first and lets the group launch the
	// replacement: the group is one instance short meanwhile.
	StrategyReplace = "terminate-then-replace"
)

// RollOptions choose what `kforge roll` replaces.
type RollOptions struct {
	// Pool rolls one worker pool; empty rolls every worker pool.
	Pool string
	// ControlPlane rolls the control plane's group instead (downtime).
	ControlPlane bool
	// DryRun computes and returns the plan, changing nothing.
	DryRun bool
	// Poll is the interval between Auto Scaling reads while waiting (10 s).
	Poll time.Duration
	// Timeout bounds each wait: a replacement InService, an instance gone,
	// a Node Ready (20 minutes).
	Timeout time.Duration
	// DrainTimeout bounds the drain of one old node (15 minutes); a drain
	// that does not finish stops the roll before the termination.
	DrainTimeout time.Duration
	// ShowPlan, when set, shows the plan before the confirmation.
	ShowPlan func(*RollResult)
	// AMI "latest" first moves the pinned images to the latest Amazon
	// Linux 2023 release (an up replacing the records), then rolls.
	AMI string
	// Progress receives that apply's progress.
	Progress func(tfrun.Progress)
	// TunnelPort, when set, reaches the API server through this local port
	// forwarded to the control plane's 6443 (an SSM port forward to a
	// private control plane; the lab's loopback forward on the emulator).
	TunnelPort int
	// RestoreSnapshot, with ControlPlane, replaces the control plane even
	// when it is current, and has the replacement restore this snapshot
	// of the history (roll_restore.go) instead of the latest.
	RestoreSnapshot string
}

// RollInstance is an instance the roll replaces, and why.
type RollInstance struct {
	ID             string `json:"id"`
	LifecycleState string `json:"lifecycle_state"`
	LaunchTemplate string `json:"launch_template,omitempty"`
	Version        string `json:"version,omitempty"`
	Reason         string `json:"reason"`
	// kubernetesOnly: the one change is the Kubernetes version, which a
	// control plane takes in place (kforge upgrade; outdated.go).
	kubernetesOnly bool
}

// RollGroup is one Auto Scaling group's part of the plan.
type RollGroup struct {
	Pool           string         `json:"pool"`
	ASG            string         `json:"asg"`
	LaunchTemplate string         `json:"launch_template"`
	Version        string         `json:"version"`
	Min            int32          `json:"min"`
	Desired        int32          `json:"desired"`
	Max            int32          `json:"max"`
	UpToDate       []string       `json:"up_to_date"`
	Replace        []RollInstance `json:"replace"`
	Strategy       string         `json:"strategy"`
	StrategyWhy    string         `json:"strategy_reason"`
	// Resuming names the instance whose surge an earlier run started.
	Resuming string `json:"resuming,omitempty"`
}

// RollStep is one replacement done.
type RollStep struct {
	Pool       string   `json:"pool"`
	Old        string   `json:"old"`
	New        []string `json:"new"`
	Strategy   string   `json:"strategy"`
	Seconds    int      `json:"seconds"`
	NodesReady bool     `json:"nodes_ready_checked"`
	Resumed    bool     `json:"resumed,omitempty"`
	// Drained is the old instance's Node, drained before it went; Evicted
	// counts the pods evicted from it.
	Drained string `json:"drained_node,omitempty"`
	Evicted int    `json:"evicted,omitempty"`
	// Deleted is the old control plane's Node, deleted by the roll once
	// the old instance was gone and its replacement's Node Ready.
	Deleted string `json:"deleted_node,omitempty"`
	// Unavailable: terminate-then-replace only, from the termination until
	// the replacement was InService (and its Node Ready when checked).
	Unavailable string `json:"unavailable,omitempty"`
	// Control plane: the snapshot request served right before the
	// termination, and the API downtime measured by probing /readyz: from
	// the last answer of the old control plane to the first of the
	// replacement.
	SnapshotRequest string `json:"snapshot_request,omitempty"`
	APIDowntime     string `json:"api_downtime,omitempty"`
	APIDowntimeSecs int    `json:"api_downtime_seconds,omitempty"`
}

// RollResult is what `kforge roll` reports.
type RollResult struct {
	Env     string      `json:"environment"`
	DryRun  bool        `json:"dry_run"`
	Groups  []RollGroup `json:"groups"`
	Steps   []RollStep  `json:"steps,omitempty"`
	Pending int         `json:"instances_to_replace"`
	// ControlPlane: the plan replaces the control plane (API downtime).
	ControlPlane   bool   `json:"control_plane"`
	BackupInterval string `json:"backup_interval,omitempty"`
	// KubeNote says whether Nodes were checked Ready, and why not.
	KubeNote string `json:"kubernetes_note,omitempty"`
	// AMIs: with --ami latest, each architecture's pinned and latest image.
	AMIs []AMIChange `json:"amis,omitempty"`
	// RestoreSnapshot: with --restore-snapshot, the history snapshot the
	// replacement restores; Rejoined, the workers replaced after it because
	// the restored cluster held no Node of theirs (rejoinWorkers).
	RestoreSnapshot string   `json:"restore_snapshot,omitempty"`
	Rejoined        []string `json:"rejoined_workers,omitempty"`
}

// ValidateRoll refuses contradictory or unknown choices (exit code 2),
// before any cloud call.
func ValidateRoll(cfg *config.Cluster, o RollOptions) error {
	if o.Pool != "" && o.ControlPlane {
		return UsageError("--pool and --control-plane exclude each other: roll the control plane on its own (it means API downtime), then the pools")
	}
	if o.Pool != "" {
		if _, ok := cfg.WorkerPools[o.Pool]; !ok {
			return UsageError("--pool %q: environment %s has no such worker pool (it has: %s); omit --pool to roll every pool", o.Pool, cfg.Environment, strings.Join(slices.Sorted(maps.Keys(cfg.WorkerPools)), ", "))
		}
	}
	if err := validateAMI(cfg, o); err != nil {
		return err
	}
	if err := validateRestore(o); err != nil {
		return err
	}
	if o.Poll < 0 || o.Timeout < 0 || o.DrainTimeout < 0 {
		return UsageError("roll: poll interval, timeout and --drain-timeout must not be negative")
	}
	if o.TunnelPort != 0 {
		return KubeconfigServer{Tunnel: true, TunnelPort: o.TunnelPort}.Validate()
	}
	return nil
}

// RunRoll replaces the instances whose launch template version differs from
// their group's, one at a time per group (see docs/OPERATIONS.md). With
// DryRun it only returns the plan. Everything it needs to resume is read
// back from the groups: run it again after an interruption.
func RunRoll(ctx context.Context, e *Env, o RollOptions) (*RollResult, error) {
	if err := ValidateRoll(e.Config, o); err != nil {
		return nil, err
	}
	out, err := e.AppliedOutputs(ctx)
	if err != nil {
		return nil, err
	}
	var amis []AMIChange
	if o.AMI == AMILatest {
		if amis, err = e.latestAMIs(ctx, out); err != nil {
			return nil, err
		}
		if !o.DryRun {
			moved, err := e.moveAMIs(ctx, amis, o)
			if err != nil {
				return nil, err
			}
			if moved != nil {
				out = moved
			}
		}
	}
	targets := map[string]string{}
	switch {
	case o.ControlPlane:
		targets[ControlPlanePool] = out.ControllerASGName
	case o.Pool != "":
		asg, ok := out.WorkerASGNames[o.Pool]
		if !ok {
			return nil, Failure("worker pool %q is configured but not applied (no group in the outputs): run `kforge up %s` first", o.Pool, e.Name)
		}
		targets[o.Pool] = asg
	default:
		maps.Copy(targets, out.WorkerASGNames)
	}
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	ec2Client := ec2.NewFromConfig(cfg)
	r := &roller{asg: autoscaling.NewFromConfig(cfg), ec2: ec2Client, ui: e.opts.UI, opts: o}
	// A dry run of --ami latest shows the images the groups would move to;
	// otherwise the groups launch from the images in out.
	if o.AMI != AMILatest || !o.DryRun {
		if err := e.checkRollImages(ctx, ec2Client, out, targets); err != nil {
			return nil, err
		}
	}
	if o.RestoreSnapshot != "" {
		if err := e.prepareRestore(ctx, r, out); err != nil {
			return nil, err
		}
	}
	res, err := r.plan(ctx, targets)
	if err != nil {
		return nil, err
	}
	res.Env, res.DryRun, res.ControlPlane = e.Name, o.DryRun, o.ControlPlane
	if r.restoreKey != "" {
		res.RestoreSnapshot = restoreName(r.restoreKey)
	}
	res.AMIs = amis
	if o.ControlPlane {
		res.BackupInterval = e.Config.ControlPlane.BackupInterval
	}
	if o.DryRun || res.Pending == 0 {
		return res, nil
	}
	if o.ShowPlan != nil {
		o.ShowPlan(res)
	}
	action, want := fmt.Sprintf("replace %d instance(s) of %s, one at a time per group", res.Pending, e.Config.Name), "yes"
	if o.ControlPlane {
		// Downtime and possible loss of recent writes: the cluster's name, as for down.
		action, want = fmt.Sprintf("replace the control plane of %s: the Kubernetes API is down until the replacement has restored the etcd snapshot taken right before the termination (without a reachable API, the latest scheduled one: writes since it, up to %s, are lost)", e.Config.Name, res.BackupInterval), e.Config.Name
		if r.restoreKey != "" {
			action = fmt.Sprintf("replace the control plane of %s and go back to etcd snapshot %s: the Kubernetes API is down until the replacement has restored it, and every write since that snapshot is lost", e.Config.Name, restoreName(r.restoreKey))
		}
	}
	if err := e.opts.UI.Confirm(ctx, action, want); err != nil {
		return nil, err
	}
	r.kube, res.KubeNote = e.nodeChecker(ctx, out, o.TunnelPort)
	if r.kube != nil && o.ControlPlane {
		// The replacement serves the API at a new address: reconnect
		// (the restored PKI keeps the admin kubeconfig valid).
		r.reconnect = func(ctx context.Context) nodeChecker {
			k, _ := e.nodeChecker(ctx, out, o.TunnelPort)
			return k
		}
		r.probe = func(ctx context.Context) bool { return e.apiReady(ctx, out, o.TunnelPort) }
		r.snapshot = func(ctx context.Context) (string, error) { return e.requestSnapshot(ctx, out, r.poll(), r.timeout()) }
	}
	e.opts.UI.Notef("%s\n", res.KubeNote)
	err = r.execute(ctx, res)
	return res, err
}

// autoScalingAPI is the part of the Auto Scaling client a roll uses.
type autoScalingAPI interface {
	DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
	SetDesiredCapacity(context.Context, *autoscaling.SetDesiredCapacityInput, ...func(*autoscaling.Options)) (*autoscaling.SetDesiredCapacityOutput, error)
	TerminateInstanceInAutoScalingGroup(context.Context, *autoscaling.TerminateInstanceInAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error)
	CreateOrUpdateTags(context.Context, *autoscaling.CreateOrUpdateTagsInput, ...func(*autoscaling.Options)) (*autoscaling.CreateOrUpdateTagsOutput, error)
	DeleteTags(context.Context, *autoscaling.DeleteTagsInput, ...func(*autoscaling.Options)) (*autoscaling.DeleteTagsOutput, error)
}

// launchTemplatesAPI resolves "$Latest"/"$Default" and compares versions.
type launchTemplatesAPI interface {
	DescribeLaunchTemplates(context.Context, *ec2.DescribeLaunchTemplatesInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplatesOutput, error)
	DescribeLaunchTemplateVersions(context.Context, *ec2.DescribeLaunchTemplateVersionsInput, ...func(*ec2.Options)) (*ec2.DescribeLaunchTemplateVersionsOutput, error)
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// EC2's system tags on an instance launched from a launch template: the
// template and the version it was launched with, set at launch and not
// writable by users (the aws: prefix is reserved).
const (
	launchTemplateIDTag      = "aws:ec2launchtemplate:id"
	launchTemplateVersionTag = "aws:ec2launchtemplate:version"
)

// launchedFrom reads the system tags of the instances: id -> [template,
// version]. The emulator reports every instance of a group on the
// template's current default version in DescribeAutoScalingGroups, and
// records the launch version only in these tags (docs/EMULATOR-NOTES.md).
func (r *roller) launchedFrom(ctx context.Context, ids []string) (map[string][2]string, error) {
	got := map[string][2]string{}
	if len(ids) == 0 {
		return got, nil
	}
	// An instance EC2 does not describe yet (just launched) is left out; its
	// group's record stands in for it (instanceTemplate).
	err := awsx.DescribeInstances(ctx, r.ec2, ids, func(i ec2types.Instance) {
		var lt, v string
		for _, t := range i.Tags {
			switch aws.ToString(t.Key) {
			case launchTemplateIDTag:
				lt = aws.ToString(t.Value)
			case launchTemplateVersionTag:
				v = aws.ToString(t.Value)
			}
		}
		if lt != "" && v != "" {
			got[aws.ToString(i.InstanceId)] = [2]string{lt, v}
		}
	})
	if err != nil {
		return nil, err
	}
	return got, nil
}

// instanceTemplate is the template id and version an instance was launched
// with: EC2's system tags when present, the group's record otherwise.
func instanceTemplate(i asgtypes.Instance, tagged map[string][2]string) (id, version string, ok bool) {
	if t, found := tagged[aws.ToString(i.InstanceId)]; found {
		return t[0], t[1], true
	}
	if i.LaunchTemplate == nil {
		return "", "", false
	}
	return aws.ToString(i.LaunchTemplate.LaunchTemplateId), aws.ToString(i.LaunchTemplate.Version), true
}

// nodeChecker is the roll's view of the Kubernetes API: whether an
// instance's Node is Ready, draining it, whether it is gone, and deleting
// it.
type nodeChecker interface {
	NodeReady(ctx context.Context, instanceID string) (bool, error)
	Drain(ctx context.Context, instanceID string, timeout time.Duration, note func(string, ...any)) (node string, evicted int, err error)
	NodeGone(ctx context.Context, instanceID string) (gone bool, node string, err error)
	InstancesWithNodes(ctx context.Context) (map[string]bool, error)
	DeleteNode(ctx context.Context, instanceID string) (node string, err error)
}

type roller struct {
	asg  autoScalingAPI
	ec2  launchTemplatesAPI
	kube nodeChecker // nil: no Kubernetes API reachable
	// reconnect, when set, builds a fresh checker on every poll (the
	// control plane's replacement has a new address).
	reconnect func(context.Context) nodeChecker
	// probe reports whether the API answers /readyz now; snapshot has the
	// control plane take an etcd snapshot and returns its request id.
	// Both are set for a control-plane roll with a reachable API.
	probe    func(context.Context) bool
	snapshot func(context.Context) (string, error)
	// forced names the instances replaced whatever their launch template
	// version, with the reason; restoreKey, requestRestore and
	// cancelRestore are a --restore-snapshot's (roll_restore.go).
	forced         map[string]string
	restoreKey     string
	requestRestore func(context.Context) error
	cancelRestore  func(context.Context) error
	// workers (pool -> group) are the groups whose instances a restore
	// may leave without a Node (rejoinWorkers); terminatedAt is when the
	// control plane was terminated, and rejoinGrace overrides
	// defaultRejoinGrace (tests).
	workers      map[string]string
	terminatedAt time.Time
	rejoinGrace  time.Duration
	// probeInterval overrides apiProbeInterval (tests).
	probeInterval time.Duration
	ui            UI
	opts          RollOptions
}

func (r *roller) poll() time.Duration {
	if r.opts.Poll > 0 {
		return r.opts.Poll
	}
	return 10 * time.Second
}

func (r *roller) drainTimeout() time.Duration {
	if r.opts.DrainTimeout > 0 {
		return r.opts.DrainTimeout
	}
	return defaultDrainTimeout
}

// drainOld cordons and drains the old instance's Node before it is
// terminated (worker pools, when the API answers). A drain that does not
// finish stops the roll: nothing is terminated, the node stays cordoned.
func (r *roller) drainOld(ctx context.Context, rg RollGroup, step *RollStep, env string) error {
	if r.kube == nil || rg.Pool == ControlPlanePool {
		return nil
	}
	note := func(format string, args ...any) { r.ui.Notef("%s: "+format+"\n", append([]any{rg.Pool}, args...)...) }
	node, evicted, err := r.kube.Drain(ctx, step.Old, r.drainTimeout(), note)
	step.Drained, step.Evicted = node, evicted
	if err != nil {
		if ctx.Err() != nil {
			return interrupted(ctx, env)
		}
		fix := "Let the budget allow a disruption (or add replicas)"
		if de := (*DrainError)(nil); errors.As(err, &de) && de.Stopped {
			fix = "Fix what stopped it"
		}
		return Failure("%s: %v. Nothing was terminated: %s stays in service and its node cordoned (as kubectl drain leaves it). %s, then run `kforge roll %s` again to resume; or `kubectl uncordon %s` to give the node back", rg.Pool, err, step.Old, fix, env, node)
	}
	if node == "" {
		note("%s has no Node: nothing to drain", step.Old)
		return nil
	}
	note("node %s drained (%d pod(s) evicted)", node, evicted)
	return nil
}

// waitNodeGone waits until the terminated worker's Node object is gone:
// the termination lifecycle hook's drainer deletes it before the instance
// goes.
func (r *roller) waitNodeGone(ctx context.Context, rg RollGroup, id, env string) error {
	if r.kube == nil || rg.Pool == ControlPlanePool {
		return nil
	}
	var name string
	err := r.waitFor(ctx, env, fmt.Sprintf("the Node of %s to be deleted (by the control plane's drainer, through the termination lifecycle hook)", id), func() (bool, error) {
		gone, n, err := r.kube.NodeGone(ctx, id)
		if err != nil {
			r.ui.Notef("%s: reading the Node of %s: %v (retrying)\n", rg.Pool, id, err)
			return false, nil
		}
		if n != "" {
			name = n
		}
		return gone, nil
	})
	if err == nil && name != "" {
		r.ui.Notef("%s: Node %s deleted\n", rg.Pool, name)
	}
	return err
}

func (r *roller) timeout() time.Duration {
	if r.opts.Timeout > 0 {
		return r.opts.Timeout
	}
	return 20 * time.Minute
}

// plan reads every target group (pool name -> group name).
func (r *roller) plan(ctx context.Context, targets map[string]string) (*RollResult, error) {
	res := &RollResult{}
	for _, pool := range slices.Sorted(maps.Keys(targets)) {
		g, err := r.describe(ctx, targets[pool])
		if err != nil {
			return nil, err
		}
		rg, err := r.planGroup(ctx, pool, g)
		if err != nil {
			return nil, err
		}
		res.Groups = append(res.Groups, rg)
		res.Pending += len(rg.Replace)
	}
	return res, nil
}

func (r *roller) describe(ctx context.Context, name string) (*asgtypes.AutoScalingGroup, error) {
	out, err := r.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describing auto scaling group %s: %w", name, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return nil, Failure("auto scaling group %s does not exist: the state names it, so it was deleted outside kforge; run `kforge up` to recreate it", name)
	}
	return &out.AutoScalingGroups[0], nil
}

// groupTemplate is the launch template a group launches from: its own, or
// its mixed-instances policy's.
func groupTemplate(g *asgtypes.AutoScalingGroup) *asgtypes.LaunchTemplateSpecification {
	if g.LaunchTemplate != nil {
		return g.LaunchTemplate
	}
	if p := g.MixedInstancesPolicy; p != nil && p.LaunchTemplate != nil {
		return p.LaunchTemplate.LaunchTemplateSpecification
	}
	return nil
}

// planGroup sorts a group's instances into up to date and to replace.
func (r *roller) planGroup(ctx context.Context, pool string, g *asgtypes.AutoScalingGroup) (RollGroup, error) {
	name := aws.ToString(g.AutoScalingGroupName)
	rg := RollGroup{Pool: pool, ASG: name, Min: aws.ToInt32(g.MinSize), Desired: aws.ToInt32(g.DesiredCapacity), Max: aws.ToInt32(g.MaxSize), UpToDate: []string{}, Replace: []RollInstance{}}
	spec := groupTemplate(g)
	if spec == nil {
		return rg, Failure("auto scaling group %s launches from no launch template; kforge's groups always do, so it was changed outside kforge: run `kforge up` to restore it", name)
	}
	ltID, ltName, version, err := r.resolveVersion(ctx, spec)
	if err != nil {
		return rg, fmt.Errorf("group %s: %w", name, err)
	}
	rg.LaunchTemplate, rg.Version = ltName, version
	changes := map[string]templateChange{}
	for _, t := range g.Tags {
		if aws.ToString(t.Key) == RollingTag {
			rg.Resuming = aws.ToString(t.Value)
		}
	}
	var ids []string
	for _, i := range g.Instances {
		if !leaving(i.LifecycleState) {
			ids = append(ids, aws.ToString(i.InstanceId))
		}
	}
	tagged, err := r.launchedFrom(ctx, ids)
	if err != nil {
		return rg, err
	}
	for _, i := range g.Instances {
		id := aws.ToString(i.InstanceId)
		state := string(i.LifecycleState)
		if leaving(i.LifecycleState) {
			continue
		}
		it := RollInstance{ID: id, LifecycleState: state}
		iltID, iversion, ok := instanceTemplate(i, tagged)
		switch {
		case !ok:
			it.Reason = "launched without a launch template"
		case iltID != ltID:
			it.Version = iversion
			it.Reason = fmt.Sprintf("launched from launch template %s, the group now uses %s", iltID, ltID)
		case iversion != version:
			it.LaunchTemplate, it.Version = ltName, iversion
			change, ok := changes[it.Version]
			if !ok {
				change = r.describeChange(ctx, ltID, it.Version, version)
				changes[it.Version] = change
			}
			it.Reason = fmt.Sprintf("launch template version %s, the group's is %s (%s)", it.Version, version, change.why)
			it.kubernetesOnly = change.kubernetesOnly
		case r.forced[id] != "":
			it.LaunchTemplate, it.Version = ltName, iversion
			it.Reason = r.forced[id]
		case id == rg.Resuming:
			// Current, yet an earlier roll's surge began replacing it (one
			// forced by a restore, rejoinWorkers): finish it, so that the
			// group does not keep the extra instance and the tag.
			it.LaunchTemplate, it.Version = ltName, iversion
			it.Reason = "an earlier roll began replacing it: its surge is in progress"
		default:
			rg.UpToDate = append(rg.UpToDate, id)
			continue
		}
		rg.Replace = append(rg.Replace, it)
	}
	slices.SortFunc(rg.Replace, func(a, b RollInstance) int {
		// The instance of a surge in progress goes first.
		if (a.ID == rg.Resuming) != (b.ID == rg.Resuming) {
			if a.ID == rg.Resuming {
				return -1
			}
			return 1
		}
		return cmpString(a.ID, b.ID)
	})
	slices.Sort(rg.UpToDate)
	base := rg.Desired
	if rg.Resuming != "" && len(rg.Replace) > 0 && rg.Replace[0].ID == rg.Resuming {
		// The interrupted surge already raised the desired capacity by one.
		base--
	} else {
		rg.Resuming = ""
	}
	rg.Strategy, rg.StrategyWhy = strategy(pool, base, rg.Max)
	if pool == ControlPlanePool && r.restoreKey != "" {
		rg.StrategyWhy = strings.Replace(rg.StrategyWhy, "the latest etcd snapshot", "etcd snapshot "+restoreName(r.restoreKey), 1)
	}
	return rg, nil
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// strategy chooses surge when max_size leaves room for one more instance.
func strategy(pool string, desired, maxSize int32) (string, string) {
	if pool == ControlPlanePool {
		return StrategyReplace, "the control plane is a group of one (etcd lives on the node): a second one cannot join it; the replacement restores the latest etcd snapshot"
	}
	if desired+1 <= maxSize {
		return StrategySurge, fmt.Sprintf("desired %d + 1 <= max %d: the replacement starts before the old instance goes", desired, maxSize)
	}
	return StrategyReplace, fmt.Sprintf("desired %d = max %d leaves no room for a surge: the pool runs one instance short during each replacement (raise workerPools.%s.max to surge)", desired, maxSize, pool)
}

// standby reports whether the instance is in Standby or entering it: in
// the group, but out of its desired capacity until it exits.
func standby(s asgtypes.LifecycleState) bool {
	return s == asgtypes.LifecycleStateStandby || s == asgtypes.LifecycleStateEnteringStandby
}

// leaving is true for instances already on their way out of the group.
func leaving(s asgtypes.LifecycleState) bool {
	switch s {
	case asgtypes.LifecycleStateTerminating, asgtypes.LifecycleStateTerminatingWait, asgtypes.LifecycleStateTerminatingProceed,
		asgtypes.LifecycleStateTerminated, asgtypes.LifecycleStateDetaching, asgtypes.LifecycleStateDetached:
		return true
	}
	return false
}

// resolveVersion returns the template's id, name and the version number a
// group spec means ("$Latest" and "$Default" resolved).
func (r *roller) resolveVersion(ctx context.Context, spec *asgtypes.LaunchTemplateSpecification) (id, name, version string, err error) {
	in := &ec2.DescribeLaunchTemplatesInput{}
	if v := aws.ToString(spec.LaunchTemplateId); v != "" {
		in.LaunchTemplateIds = []string{v}
	} else {
		in.LaunchTemplateNames = []string{aws.ToString(spec.LaunchTemplateName)}
	}
	out, err := r.ec2.DescribeLaunchTemplates(ctx, in)
	if err != nil {
		return "", "", "", fmt.Errorf("describing launch template %s%s: %w", aws.ToString(spec.LaunchTemplateId), aws.ToString(spec.LaunchTemplateName), err)
	}
	if len(out.LaunchTemplates) == 0 {
		return "", "", "", Failure("launch template %s%s does not exist", aws.ToString(spec.LaunchTemplateId), aws.ToString(spec.LaunchTemplateName))
	}
	lt := out.LaunchTemplates[0]
	id, name, version = aws.ToString(lt.LaunchTemplateId), aws.ToString(lt.LaunchTemplateName), aws.ToString(spec.Version)
	switch version {
	case "$Latest":
		version = strconv.FormatInt(aws.ToInt64(lt.LatestVersionNumber), 10)
	case "", "$Default":
		version = strconv.FormatInt(aws.ToInt64(lt.DefaultVersionNumber), 10)
	}
	return id, name, version, nil
}

// describeChange names what differs between two versions of a template:
// the image, the instance type, the user data (which carries the agent's
// SHA-256). A failure to read them only makes the reason vaguer.
func (r *roller) describeChange(ctx context.Context, ltID, from, to string) templateChange {
	unreadable := templateChange{why: "versions not readable"}
	out, err := r.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateId: aws.String(ltID), Versions: []string{from, to}})
	if err != nil || len(out.LaunchTemplateVersions) != 2 {
		return unreadable
	}
	var a, b = out.LaunchTemplateVersions[0].LaunchTemplateData, out.LaunchTemplateVersions[1].LaunchTemplateData
	if strconv.FormatInt(aws.ToInt64(out.LaunchTemplateVersions[0].VersionNumber), 10) != from {
		a, b = b, a
	}
	if a == nil || b == nil {
		return unreadable
	}
	var diffs []string
	if x, y := aws.ToString(a.ImageId), aws.ToString(b.ImageId); x != y {
		diffs = append(diffs, fmt.Sprintf("image %s -> %s", x, y))
	}
	if x, y := string(a.InstanceType), string(b.InstanceType); x != y {
		diffs = append(diffs, fmt.Sprintf("instance type %s -> %s", x, y))
	}
	if x, y := rootVolumeSize(a), rootVolumeSize(b); x != y {
		diffs = append(diffs, fmt.Sprintf("root volume %d -> %d GiB", x, y))
	}
	kubernetes := false
	for _, s := range userDataSettings {
		// A setting an older template did not name is not a change of it.
		if x, y := userDataSetting(aws.ToString(a.UserData), s.line), userDataSetting(aws.ToString(b.UserData), s.line); x != y && x != "" {
			diffs = append(diffs, fmt.Sprintf(s.format, x, y))
			kubernetes = kubernetes || s.line == kubernetesLine
		}
	}
	// Anything else in the user data (the agent's SHA-256 and object
	// version, the node's settings) is a change of its own, also beside a
	// named one: an in-place upgrade does not replace the agent.
	if userDataBesideSettings(aws.ToString(a.UserData)) != userDataBesideSettings(aws.ToString(b.UserData)) {
		diffs = append(diffs, agentBuildChange)
	}
	if len(diffs) == 0 {
		return templateChange{why: "other launch settings"}
	}
	return templateChange{why: strings.Join(diffs, ", "), kubernetesOnly: kubernetes && len(diffs) == 1}
}

// rootVolumeSize is the size in GiB of the root volume a launch template
// version maps (the node-group module's /dev/xvda), 0 when it maps none.
func rootVolumeSize(d *ec2types.ResponseLaunchTemplateData) int32 {
	for _, m := range d.BlockDeviceMappings {
		if aws.ToString(m.DeviceName) == "/dev/xvda" && m.Ebs != nil {
			return aws.ToInt32(m.Ebs.VolumeSize)
		}
	}
	return 0
}

// agentBuildChange is describeChange's words for user data that differs
// beyond the settings it names.
const agentBuildChange = "user data: agent build or node settings"

// templateChange is what differs between two versions of a launch
// template: why in words, and whether it is the Kubernetes version alone.
type templateChange struct {
	why            string
	kubernetesOnly bool
}

// execute replaces the plan's instances group by group, one at a time,
// re-reading the group before each step so that a change made meanwhile
// (the autoscaler, another roll) is seen.
func (r *roller) execute(ctx context.Context, res *RollResult) error {
	for gi := range res.Groups {
		rg := &res.Groups[gi]
		for {
			if err := interrupted(ctx, resumeArgs(res.Env, *rg)); err != nil {
				return err
			}
			g, err := r.describe(ctx, rg.ASG)
			if err != nil {
				return err
			}
			fresh, err := r.planGroup(ctx, rg.Pool, g)
			if err != nil {
				return err
			}
			if len(fresh.Replace) == 0 {
				r.ui.Notef("%s: all %d instance(s) on launch template version %s\n", rg.Pool, len(fresh.UpToDate), fresh.Version)
				break
			}
			step, err := r.replace(ctx, fresh, g, fresh.Replace[0], resumeArgs(res.Env, fresh))
			if err != nil {
				return err
			}
			res.Steps = append(res.Steps, step)
		}
	}
	return r.rejoinWorkers(ctx, res)
}

// resumeArgs are the arguments of the `kforge roll` that continues a
// group's roll: the control plane is rolled only when asked for.
func resumeArgs(env string, rg RollGroup) string {
	if rg.Pool == ControlPlanePool {
		return env + " --control-plane"
	}
	return env
}

// interrupted is the error of a roll stopped by Ctrl-C; env is
// resumeArgs.
func interrupted(ctx context.Context, env string) error {
	if ctx.Err() == nil {
		return nil
	}
	return &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("roll interrupted: run `kforge roll %s` again to continue; instances already on their group's launch template version are skipped", env)}
}

// replace replaces one instance: surge (raise desired, tag, wait,
// terminate with decrement, untag) or terminate-then-replace. env is the
// roll's resumeArgs, for the messages that say how to go on.
func (r *roller) replace(ctx context.Context, rg RollGroup, g *asgtypes.AutoScalingGroup, old RollInstance, env string) (RollStep, error) {
	start := time.Now()
	step := RollStep{Pool: rg.Pool, Old: old.ID, Strategy: rg.Strategy}
	if standby(asgtypes.LifecycleState(old.LifecycleState)) {
		return step, Failure("%s: %s is in Standby, taken out of service by hand, and on an outdated launch template version: the roll does not replace it. "+
			"Put it back (`aws autoscaling exit-standby --auto-scaling-group-name %s --instance-ids %s`) or terminate it, then run `kforge roll %s` again", rg.Pool, old.ID, rg.ASG, old.ID, env)
	}
	// A call in flight finishes even after Ctrl-C: the interrupt stops
	// between steps and during waits, never half-way through a call.
	call := context.WithoutCancel(ctx)
	before := map[string]bool{}
	for _, i := range g.Instances {
		before[aws.ToString(i.InstanceId)] = true
	}
	surge := rg.Strategy == StrategySurge || rg.Resuming == old.ID
	if surge {
		step.Strategy = StrategySurge
		if rg.Resuming == old.ID {
			step.Resumed = true
			r.ui.Notef("%s: resuming the surge for %s (an earlier run raised the desired capacity to %d)\n", rg.Pool, old.ID, rg.Desired)
		} else {
			r.ui.Notef("%s: replacing %s (%s): desired %d -> %d\n", rg.Pool, old.ID, old.Reason, rg.Desired, rg.Desired+1)
			if err := r.raise(call, rg, old.ID); err != nil {
				return step, err
			}
		}
		newIDs, err := r.waitCapacity(ctx, rg, "", before, env)
		if err != nil {
			return step, err
		}
		step.New = newIDs
		check := newIDs
		if len(check) == 0 {
			// Resumed: the replacement was launched by the earlier run.
			check = rg.UpToDate
		}
		if step.NodesReady, err = r.waitNodes(ctx, rg, check, env); err != nil {
			return step, err
		}
		// The replacement is Ready: only now does the old node drain.
		if err := r.drainOld(ctx, rg, &step, env); err != nil {
			return step, err
		}
		back := rg.Desired
		if step.Resumed {
			back--
		}
		r.ui.Notef("%s: terminating %s (desired back to %d); the termination lifecycle hook has the control plane drain its node first\n", rg.Pool, old.ID, back)
		if err := r.terminate(call, rg, old.ID, true); err != nil {
			return step, err
		}
		if _, err := r.asg.DeleteTags(call, &autoscaling.DeleteTagsInput{Tags: []asgtypes.Tag{{
			ResourceId: aws.String(rg.ASG), ResourceType: aws.String("auto-scaling-group"), Key: aws.String(RollingTag),
		}}}); err != nil {
			return step, fmt.Errorf("removing tag %s from group %s: %w", RollingTag, rg.ASG, err)
		}
		if err := r.waitGone(ctx, rg, old.ID, env); err != nil {
			return step, err
		}
		if err := r.waitNodeGone(ctx, rg, old.ID, env); err != nil {
			return step, err
		}
	} else {
		r.ui.Notef("%s: replacing %s (%s): terminating it first (%s)\n", rg.Pool, old.ID, old.Reason, rg.StrategyWhy)
		if err := r.waitWhole(ctx, rg, env); err != nil {
			return step, err
		}
		if err := r.drainOld(ctx, rg, &step, env); err != nil {
			return step, err
		}
		if err := r.snapshotFirst(ctx, rg, &step, env); err != nil {
			return step, err
		}
		if err := r.nameRestore(call, rg); err != nil {
			return step, err
		}
		t0 := time.Now()
		r.terminatedAt = t0
		if err := r.terminate(call, rg, old.ID, false); err != nil {
			return step, r.withdrawRestore(call, rg, err)
		}
		if err := r.measureDowntime(ctx, rg, &step, t0, env); err != nil {
			return step, err
		}
		if err := r.waitGone(ctx, rg, old.ID, env); err != nil {
			return step, err
		}
		if err := r.waitNodeGone(ctx, rg, old.ID, env); err != nil {
			return step, err
		}
		newIDs, err := r.waitCapacity(ctx, rg, old.ID, before, env)
		if err != nil {
			return step, err
		}
		step.New = newIDs
		if step.NodesReady, err = r.waitNodes(ctx, rg, newIDs, env); err != nil {
			return step, err
		}
		step.Unavailable = time.Since(t0).Truncate(time.Second).String()
		r.deleteOldNode(ctx, rg, &step)
	}
	step.Seconds = int(time.Since(start).Seconds())
	if len(step.New) == 0 {
		// Resumed: the earlier run's surge launched the replacement.
		r.ui.Notef("%s: %s replaced in %ds (its replacement was launched by the earlier run; up to date now: %v)\n", rg.Pool, old.ID, step.Seconds, rg.UpToDate)
	} else {
		r.ui.Notef("%s: %s replaced by %v in %ds\n", rg.Pool, old.ID, step.New, step.Seconds)
	}
	return step, nil
}

// raise starts a surge: the desired capacity one up, then the tag that
// tells a later run the surge is in progress (its base is one less). In
// that order, a run stopped between the two leaves one instance more than
// desired, never one less: a tag without a raise would have the next run
// terminate with decrement an instance nothing replaced. A raise that
// failed is tagged only if it took effect after all (an answer lost).
func (r *roller) raise(ctx context.Context, rg RollGroup, old string) error {
	_, err := r.asg.SetDesiredCapacity(ctx, &autoscaling.SetDesiredCapacityInput{
		AutoScalingGroupName: aws.String(rg.ASG), DesiredCapacity: aws.Int32(rg.Desired + 1), HonorCooldown: aws.Bool(false),
	})
	if err != nil {
		err = fmt.Errorf("raising the desired capacity of %s to %d: %w", rg.ASG, rg.Desired+1, err)
		if g, derr := r.describe(ctx, rg.ASG); derr != nil || aws.ToInt32(g.DesiredCapacity) != rg.Desired+1 {
			return err
		}
	}
	if _, terr := r.asg.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: []asgtypes.Tag{{
		ResourceId: aws.String(rg.ASG), ResourceType: aws.String("auto-scaling-group"),
		Key: aws.String(RollingTag), Value: aws.String(old), PropagateAtLaunch: aws.Bool(false),
	}}}); terr != nil {
		return errors.Join(err, fmt.Errorf("tagging group %s with %s=%s after raising its desired capacity to %d: %w; the next roll starts a new surge, and the group keeps one instance more until it scales in", rg.ASG, RollingTag, old, rg.Desired+1, terr))
	}
	return err
}

func (r *roller) terminate(ctx context.Context, rg RollGroup, id string, decrement bool) error {
	_, err := r.asg.TerminateInstanceInAutoScalingGroup(ctx, &autoscaling.TerminateInstanceInAutoScalingGroupInput{
		InstanceId: aws.String(id), ShouldDecrementDesiredCapacity: aws.Bool(decrement),
	})
	if err != nil {
		return fmt.Errorf("terminating %s in group %s: %w", id, rg.ASG, err)
	}
	return nil
}

// waitFor polls until done reports true, the timeout passes or ctx ends.
func (r *roller) waitFor(ctx context.Context, env, what string, done func() (bool, error)) error {
	deadline := time.Now().Add(r.timeout())
	for {
		ok, err := done()
		if err != nil || ok {
			return err
		}
		if time.Now().After(deadline) {
			return Failure("timed out after %s waiting for %s; the roll stopped here and resumes with `kforge roll %s`", r.timeout(), what, env)
		}
		select {
		case <-ctx.Done():
			return interrupted(ctx, env)
		case <-time.After(r.poll()):
		}
	}
}

// waitCapacity waits until the group has its desired count InService, none
// pending, every instance but the one being replaced on the current
// version. It returns the instances that were not in the group before.
func (r *roller) waitCapacity(ctx context.Context, rg RollGroup, gone string, before map[string]bool, env string) ([]string, error) {
	var fresh []string
	err := r.waitFor(ctx, env, fmt.Sprintf("a replacement InService in group %s", rg.ASG), func() (bool, error) {
		var whole bool
		var err error
		whole, fresh, err = r.whole(ctx, rg, gone, before)
		return whole, err
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(fresh)
	// A replacement that is itself outdated would be replaced forever: the
	// group's template changed meanwhile, or the emulator reports versions
	// wrongly (docs/EMULATOR-NOTES.md).
	g, err := r.describe(ctx, rg.ASG)
	if err != nil {
		return nil, err
	}
	tagged, err := r.launchedFrom(ctx, fresh)
	if err != nil {
		return nil, err
	}
	for _, i := range g.Instances {
		id := aws.ToString(i.InstanceId)
		if _, v, ok := instanceTemplate(i, tagged); ok && slices.Contains(fresh, id) && v != rg.Version {
			return nil, Failure("replacement %s in group %s was launched from launch template version %s, not the group's %s: stopping rather than replacing it again", id, rg.ASG, v, rg.Version)
		}
	}
	return fresh, nil
}

// whole reports whether the group has its desired count InService and
// none pending, leaving aside gone and the instances leaving it, and which
// of its instances were not in before. Standby instances count neither
// way: Auto Scaling leaves them out of the desired capacity.
func (r *roller) whole(ctx context.Context, rg RollGroup, gone string, before map[string]bool) (bool, []string, error) {
	g, err := r.describe(ctx, rg.ASG)
	if err != nil {
		return false, nil, err
	}
	inService, pending := 0, 0
	var fresh []string
	for _, i := range g.Instances {
		id := aws.ToString(i.InstanceId)
		if leaving(i.LifecycleState) || standby(i.LifecycleState) || id == gone {
			continue
		}
		if i.LifecycleState == asgtypes.LifecycleStateInService {
			inService++
		} else {
			pending++
		}
		if !before[id] {
			fresh = append(fresh, id)
		}
	}
	return pending == 0 && int32(inService) >= aws.ToInt32(g.DesiredCapacity), fresh, nil
}

// waitWhole waits, before an instance is terminated first, until the group
// is whole again and the Nodes of its current instances are Ready: a run
// stopped while an earlier replacement was still booting must not take a
// second instance out beside it.
func (r *roller) waitWhole(ctx context.Context, rg RollGroup, env string) error {
	err := r.waitFor(ctx, env, fmt.Sprintf("group %s to have its desired capacity InService before another instance goes", rg.ASG), func() (bool, error) {
		whole, _, err := r.whole(ctx, rg, "", nil)
		return whole, err
	})
	if err != nil {
		return err
	}
	_, err = r.waitNodes(ctx, rg, rg.UpToDate, env)
	return err
}

// leftGroup reports whether the instance is no longer in the group.
func (r *roller) leftGroup(ctx context.Context, rg RollGroup, id string) (bool, error) {
	g, err := r.describe(ctx, rg.ASG)
	if err != nil {
		return false, err
	}
	for _, i := range g.Instances {
		if aws.ToString(i.InstanceId) == id && i.LifecycleState != asgtypes.LifecycleStateTerminated {
			return false, nil
		}
	}
	return true, nil
}

// waitGone waits until the instance has left the group: with the
// termination lifecycle hook it waits in Terminating:Wait while its node
// drains.
func (r *roller) waitGone(ctx context.Context, rg RollGroup, id, env string) error {
	return r.waitFor(ctx, env, fmt.Sprintf("%s to leave group %s (its node drains through the termination lifecycle hook first)", id, rg.ASG), func() (bool, error) {
		return r.leftGroup(ctx, rg, id)
	})
}

// waitNodes waits for the new instances' Nodes to be Ready when a
// Kubernetes API is reachable; it reports whether it checked.
func (r *roller) waitNodes(ctx context.Context, rg RollGroup, ids []string, env string) (bool, error) {
	if r.kube == nil {
		return false, nil
	}
	for _, id := range ids {
		if err := r.waitFor(ctx, env, fmt.Sprintf("the Node of %s to be Ready", id), func() (bool, error) {
			k := r.api(ctx)
			if k == nil {
				return false, nil // the API is not serving yet
			}
			ok, err := k.NodeReady(ctx, id)
			if err != nil && !errors.Is(err, context.Canceled) {
				// The API answering badly for a moment is no reason to stop.
				r.ui.Notef("%s: reading the Node of %s: %v (retrying)\n", rg.Pool, id, err)
				return false, nil
			}
			return ok, err
		}); err != nil {
			return false, err
		}
		r.ui.Notef("%s: Node of %s is Ready\n", rg.Pool, id)
	}
	return true, nil
}

// api is the checker to ask now: a fresh one when the API may have moved
// (the control plane's replacement), nil when it does not answer.
func (r *roller) api(ctx context.Context) nodeChecker {
	if r.reconnect != nil {
		return r.reconnect(ctx)
	}
	return r.kube
}

// How the user data (terraform/cluster/templates/user-data.sh.tftpl) names
// the settings a node applies only when it boots: the Kubernetes version
// it installs, on the control plane etcd's quota, and on a worker a digest
// of its pool's labels and taints.
var (
	kubernetesLine   = regexp.MustCompile(`(?m)^# Kubernetes ([0-9]+\.[0-9]+\.[0-9]+):`)
	etcdQuotaLine    = regexp.MustCompile(`(?m)^# etcd quota ([0-9]+) GiB:`)
	poolSettingsLine = regexp.MustCompile(`(?m)^# Pool labels and taints ([0-9a-f]{16}):`)
)

// userDataSettings are the named settings, each with how describeChange
// words a change of it; userDataBesideSettings leaves their values out.
var userDataSettings = []struct {
	line   *regexp.Regexp
	format string
}{
	{kubernetesLine, "Kubernetes %s -> %s"},
	{etcdQuotaLine, "etcd quota %s -> %s GiB"},
	{poolSettingsLine, "pool labels or taints (%.7s -> %.7s)"},
}

// userDataBesideSettings is base64 user data decoded, with the values of
// the named settings left out, so that two templates that differ only by
// those compare equal. Undecodable user data is compared as it is.
func userDataBesideSettings(encoded string) string {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return encoded
	}
	for _, s := range userDataSettings {
		if m := s.line.FindSubmatchIndex(raw); m != nil {
			raw = append(raw[:m[2]:m[2]], raw[m[3]:]...)
		}
	}
	return string(raw)
}

// userDataSetting is what base64 user data names on line, or "".
func userDataSetting(encoded string, line *regexp.Regexp) string {
	raw, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return ""
	}
	if m := line.FindSubmatch(raw); m != nil {
		return string(m[1])
	}
	return ""
}
