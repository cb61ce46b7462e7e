package cluster

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/digest"
	"github.com/kforge/kforge/internal/nodelifecycle"
	"github.com/kforge/kforge/internal/tfrun"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// UpgradeOptions choose what `kforge upgrade` does.
type UpgradeOptions struct {
	// To is the Kubernetes version to reach (MAJOR.MINOR.PATCH).
	To string
	// DryRun returns the plan and changes nothing.
	DryRun bool
	// NoRoll stops after the control plane: the worker pools keep their
	// kubelets (one minor behind is within the skew policy) until `kforge
	// roll` replaces them.
	NoRoll bool
	// ControlPlaneTimeout bounds the wait for the API server to report To
	// (30 minutes).
	ControlPlaneTimeout time.Duration
	// Roll tunes the worker roll (poll interval, timeouts, plan display).
	Roll RollOptions
	// ShowPlan, when set, is shown the plan before the confirmation.
	ShowPlan func(*UpgradeResult)
	// Progress receives the apply's progress.
	Progress func(tfrun.Progress)
}

// UpgradePool is a worker pool the upgrade rolls.
type UpgradePool struct {
	Pool      string `json:"pool"`
	ASG       string `json:"asg"`
	Instances int    `json:"instances"`
}

// UpgradeResult is the plan, and what was done (`kforge upgrade -o json`).
type UpgradeResult struct {
	Env     string `json:"environment"`
	DryRun  bool   `json:"dry_run"`
	From    string `json:"from"`
	To      string `json:"to"`
	Kind    string `json:"kind"`
	EnvFile string `json:"env_file"`
	Bucket  string `json:"certs_bucket"`
	// Steps are the plan, in order.
	Steps []string      `json:"steps"`
	Pools []UpgradePool `json:"worker_pools"`
	// Done records the steps completed by this run.
	Done []string `json:"done,omitempty"`
	// ControlPlane says how the control plane's upgrade was confirmed.
	ControlPlane string      `json:"control_plane,omitempty"`
	Roll         *RollResult `json:"roll,omitempty"`
	NoRoll       bool        `json:"no_roll,omitempty"`
}

// ValidateUpgrade refuses a target kforge cannot reach from the configured
// version (exit code 2), before any cloud call.
func ValidateUpgrade(cfg *config.Cluster, o UpgradeOptions) error {
	if o.To == "" {
		return UsageError("--to is required: the Kubernetes version to upgrade to, for example --to %s", config.DefaultKubernetesVersion)
	}
	if _, err := config.CheckUpgrade(cfg.Kubernetes.Version, o.To); err != nil {
		return UsageError("%v", err)
	}
	if o.ControlPlaneTimeout < 0 {
		return UsageError("upgrade: the control plane timeout must not be negative")
	}
	if o.Roll.TunnelPort != 0 {
		return KubeconfigServer{Tunnel: true, TunnelPort: o.Roll.TunnelPort}.Validate()
	}
	return nil
}

// RunUpgrade upgrades the cluster's Kubernetes version (docs/OPERATIONS.md):
// it records the version in the environment file, applies it (cluster.json
// and every launch template name it), waits for the control plane's agent
// to have snapshotted etcd and run kubeadm upgrade apply, then rolls every
// worker pool. Each step is idempotent, so an interrupted upgrade resumes
// by running the same command again.
func RunUpgrade(ctx context.Context, e *Env, o UpgradeOptions) (*UpgradeResult, error) {
	if err := ValidateUpgrade(e.Config, o); err != nil {
		return nil, err
	}
	out, err := e.AppliedOutputs(ctx)
	if err != nil {
		return nil, err
	}
	// The applied version rules: the file may already name the target
	// after an interrupted upgrade, or have been edited by hand.
	from := out.KubernetesVersion
	if from == "" {
		from = e.Config.Kubernetes.Version
	}
	kind, err := config.CheckUpgrade(from, o.To)
	if err != nil {
		return nil, UsageError("%v (the applied cluster runs %s)", err, from)
	}
	// An older kforge is refused before the environment file is edited:
	// the up below would refuse it only after, and the way out it names
	// (up --allow-downgrade) would then meet the new version in the file.
	if err := e.checkKforgeVersion(out.KforgeVersion, !o.DryRun, false); err != nil {
		return nil, err
	}
	res := &UpgradeResult{Env: e.Name, DryRun: o.DryRun, From: from, To: o.To, Kind: kind, NoRoll: o.NoRoll,
		EnvFile: filepath.Join(e.opts.EnvsDir, e.Name+".yaml"), Bucket: out.CertsBucket, Pools: []UpgradePool{}}
	groups, err := e.groupReader(ctx)
	if err != nil {
		return nil, err
	}
	if res.Pools, err = upgradePools(ctx, groups, out); err != nil {
		return nil, err
	}
	if kind == config.UpgradeMinor {
		local, err := e.localAgentDigests()
		if err != nil && !o.DryRun {
			return nil, err
		}
		if err != nil {
			// A dry run shows the plan on any machine; the upgrade itself
			// needs the agents, and compares them.
			e.opts.UI.Notef("note: the control plane's agent was not compared with this kforge's: %v\n", err)
		}
		if err := checkControlPlaneAgent(ctx, groups, e.Name, out, o.To, local); err != nil {
			return nil, err
		}
	}
	res.Steps = UpgradeSteps(res, e.Config.Kubernetes.Version)
	if o.DryRun {
		return res, nil
	}
	if o.ShowPlan != nil {
		o.ShowPlan(res)
	}
	if err := e.opts.UI.Confirm(ctx, fmt.Sprintf("upgrade %s from Kubernetes %s to %s", e.Config.Name, from, o.To), "yes"); err != nil {
		return nil, err
	}

	// 1. The version, in the environment's own file: a later `up` agrees.
	if e.Config.Kubernetes.Version != o.To {
		if _, err := config.SetKubernetesVersion(e.opts.EnvsDir, e.Name, o.To); err != nil {
			return res, Failure("recording kubernetes.version %s: %v", o.To, err)
		}
		e.opts.UI.Notef("upgrade: kubernetes.version: %s recorded in %s\n", o.To, res.EnvFile)
	}
	cfg, err := config.LoadEnv(e.opts.EnvsDir, e.Name)
	if err != nil {
		return res, err
	}
	e.Config = cfg
	res.Done = append(res.Done, "version recorded")

	// 2. Apply: cluster.json and the launch templates name the version.
	up, err := RunUp(ctx, e, UpOptions{Progress: o.Progress, VersionChange: true, RollsNext: !o.NoRoll})
	if err != nil {
		return res, fmt.Errorf("applying Kubernetes %s: %w; run `kforge upgrade %s --to %s` again to resume", o.To, err, e.Name, o.To)
	}
	e.opts.UI.Notef("upgrade: applied (%d change(s)): cluster.json and every launch template name %s\n", up.Summary.Total(), o.To)
	res.Done = append(res.Done, "applied")

	// 3. The control plane: its agent upgrades it; confirm through the API.
	if res.ControlPlane, err = e.waitControlPlaneVersion(ctx, &up.Outputs, o); err != nil {
		return res, err
	}
	res.Done = append(res.Done, "control plane")
	if o.NoRoll {
		return res, nil
	}

	// 4. Every worker pool, through the roll (surge, drain, resume).
	ro := o.Roll
	ro.Pool, ro.ControlPlane, ro.DryRun = "", false, false
	roll, err := RunRoll(ctx, e, ro)
	res.Roll = roll
	if err != nil {
		return res, fmt.Errorf("rolling the worker pools onto %s: %w; `kforge roll %s` continues it", o.To, err, e.Name)
	}
	res.Done = append(res.Done, "workers rolled")
	return res, nil
}

// upgradePools lists the worker pools and their current instance counts.
func upgradePools(ctx context.Context, r *roller, out *Outputs) ([]UpgradePool, error) {
	pools := []UpgradePool{}
	for _, pool := range slices.Sorted(maps.Keys(out.WorkerASGNames)) {
		g, err := r.describe(ctx, out.WorkerASGNames[pool])
		if err != nil {
			return nil, err
		}
		n := 0
		for _, i := range g.Instances {
			if !leaving(i.LifecycleState) {
				n++
			}
		}
		pools = append(pools, UpgradePool{Pool: pool, ASG: out.WorkerASGNames[pool], Instances: n})
	}
	return pools, nil
}

// checkControlPlaneAgent refuses a minor upgrade while the control plane
// runs another agent build than this kforge uploads: an older one left by
// an up since its launch without its roll, or the build of an older kforge
// when this one has not run up yet (the upgrade's own up would then upload
// the new agent beside a control plane that keeps the old). That agent
// upgrades the node in place, and stays: one that does not know the new
// minor refuses it or, if built before it refused, applies no add-on after
// it (each minor has its own Cluster Autoscaler build), which shows nowhere
// but in the node's journal. localAgents are the SHA-256 digests of the
// agents this kforge uploads; nil leaves that comparison out (a dry run on
// a machine without them).
func checkControlPlaneAgent(ctx context.Context, r *roller, env string, out *Outputs, to string, localAgents []string) error {
	if out.ControllerASGName == "" {
		return nil
	}
	plan, err := r.plan(ctx, map[string]string{ControlPlanePool: out.ControllerASGName})
	if err != nil {
		return fmt.Errorf("reading the control plane's launch template before the upgrade: %w", err)
	}
	roll := fmt.Sprintf("kforge roll %s --control-plane", env)
	for _, g := range outdatedInPlan(plan, env) {
		if strings.Contains(g.Reason, agentBuildChange) {
			return Failure("the control plane runs an older kforge agent than this kforge uploaded (%s). It would upgrade itself to %s in place and keep that agent, which may not know the new minor, and then apply no add-on (each minor has its own Cluster Autoscaler build). "+
				"Replace it first with `%s` (the API is down while the replacement boots), then run this upgrade again", g.Reason, to, g.Roll)
		}
	}
	// The instance runs its group's agent build (above); is it this kforge's?
	if localAgents == nil {
		return nil
	}
	for _, g := range plan.Groups {
		running, err := r.templateAgents(ctx, g.LaunchTemplate, g.Version)
		if err != nil {
			return fmt.Errorf("reading the control plane's agent before the upgrade: %w", err)
		}
		if len(running) == 0 {
			// A template of a kforge that did not write the digest this way.
			running = []string{"none"}
		}
		for _, sha := range running {
			if !slices.Contains(localAgents, sha) {
				return Failure("the control plane runs a kforge agent (SHA-256 %.12s) other than the one this kforge uploads (%s). It would upgrade itself to %s in place with that agent, which may not know the new minor. "+
					"Upload this kforge's agent and replace the control plane first: `kforge up %s`, then `%s` (the API is down while the replacement boots), then run this upgrade again", sha, shortDigests(localAgents), to, env, roll)
			}
		}
	}
	return nil
}

// agentDigestLine is the user data's SHA-256 of an architecture's agent.
var agentDigestLine = regexp.MustCompile(`(?m)^\s*agent_sha256="([0-9a-f]+)"`)

// templateAgents are the SHA-256 digests of the agents a launch template
// version's user data installs, one per architecture; none for user data
// that does not name them so.
func (r *roller) templateAgents(ctx context.Context, template, version string) ([]string, error) {
	out, err := r.ec2.DescribeLaunchTemplateVersions(ctx, &ec2.DescribeLaunchTemplateVersionsInput{LaunchTemplateName: aws.String(template), Versions: []string{version}})
	if err != nil {
		return nil, fmt.Errorf("launch template %s version %s: %w", template, version, err)
	}
	if len(out.LaunchTemplateVersions) != 1 || out.LaunchTemplateVersions[0].LaunchTemplateData == nil {
		return nil, fmt.Errorf("launch template %s has no version %s", template, version)
	}
	raw, err := base64.StdEncoding.DecodeString(aws.ToString(out.LaunchTemplateVersions[0].LaunchTemplateData.UserData))
	if err != nil {
		return nil, fmt.Errorf("launch template %s version %s: user data: %w", template, version, err)
	}
	var digests []string
	for _, m := range agentDigestLine.FindAllSubmatch(raw, -1) {
		digests = append(digests, string(m[1]))
	}
	return digests, nil
}

// shortDigests names digests by their first 12 hex digits.
func shortDigests(digests []string) string {
	short := make([]string, len(digests))
	for i, d := range digests {
		short[i] = fmt.Sprintf("%.12s", d)
	}
	return strings.Join(short, ", ")
}

// localAgentDigests are the SHA-256 digests of the agents this kforge
// uploads for the environment.
func (e *Env) localAgentDigests() ([]string, error) {
	agents, err := e.AgentBinaries()
	if err != nil {
		return nil, err
	}
	var digests []string
	for _, arch := range slices.Sorted(maps.Keys(agents)) {
		d, err := digest.File(agents[arch])
		if err != nil {
			return nil, fmt.Errorf("the %s agent: %w", arch, err)
		}
		digests = append(digests, d)
	}
	return digests, nil
}

// UpgradeSteps is the plan in words, given the configured version.
func UpgradeSteps(res *UpgradeResult, configured string) []string {
	var steps []string
	if configured != res.To {
		steps = append(steps, fmt.Sprintf("record kubernetes.version: %s in %s (base.yaml and the other environments keep theirs)", res.To, res.EnvFile))
	} else {
		steps = append(steps, fmt.Sprintf("kubernetes.version is already %s in the environment files", res.To))
	}
	steps = append(steps,
		fmt.Sprintf("kforge up: bootstrap/cluster.json and every node group's launch template name %s; no instance is replaced by the apply", res.To),
		fmt.Sprintf("control plane: kforge-upgrade.timer on the node (every 2 minutes) sees %s in cluster.json, takes an etcd snapshot to s3://%s/controller/etcd/latest.db, installs kubeadm %s, runs `kubeadm upgrade apply v%s`, drains the node (its static pods stay), installs kubelet and kubectl %s, restarts the kubelet and uncordons the node; kforge waits until the API server reports v%s and the control plane's Node runs kubelet v%s, Ready and uncordoned", res.To, res.Bucket, res.To, res.To, res.To, res.To, res.To))
	if res.NoRoll {
		steps = append(steps, "workers: not rolled (--no-roll); their kubelets stay on "+res.From+" until `kforge roll "+res.Env+"`")
		return steps
	}
	var pools []string
	for _, p := range res.Pools {
		pools = append(pools, fmt.Sprintf("%s (%d instance(s))", p.Pool, p.Instances))
	}
	if len(pools) == 0 {
		pools = []string{"none"}
	}
	return append(steps, fmt.Sprintf("workers: kforge roll replaces every worker, one at a time per pool, each drained through the termination lifecycle hook: %s", strings.Join(pools, ", ")))
}

// controlPlaneUnconfirmed is the upgrade's answer when no API answers to
// confirm the control plane's version (apiErr says why). On AWS the
// workers are not rolled then: a worker of the new version cannot join a
// control plane still on the old one, and the old workers would be gone.
// On the emulator no instance boots, so there is never an API to ask, and
// the roll goes on with a note.
func (e *Env) controlPlaneUnconfirmed(apiErr error, o UpgradeOptions) (string, error) {
	msg := fmt.Sprintf("not checked: %v; the API server's version is not confirmed", apiErr)
	if !e.Emulated() && !o.NoRoll {
		return msg, Failure("the control plane's upgrade to %s could not be confirmed (%v), so no worker was rolled: the control plane must be whole on %s before any worker. "+
			"For a private control plane, run `kforge upgrade %s --to %s --tunnel-port <port>` again; or, once `kubectl version` reports v%s and the control plane's Node is Ready, run `kforge roll %s`",
			o.To, apiErr, o.To, e.Name, o.To, o.To, e.Name)
	}
	e.opts.UI.Notef("upgrade: control plane %s\n", msg)
	return msg, nil
}

// waitControlPlaneVersion waits until the control plane has finished its
// upgrade, when an API is reachable, and says what it checked: the API
// server reports the target version, and every control-plane Node runs a
// kubelet of that version, Ready and uncordoned. kubeadm's order is the
// control plane whole (its kubelet included) before any worker: the roll
// must not drain workers while the control plane's kubelet restarts and
// its static pods are recreated.
func (e *Env) waitControlPlaneVersion(ctx context.Context, out *Outputs, o UpgradeOptions) (string, error) {
	client, _, err := e.kubeClient(ctx, out, o.Roll.TunnelPort)
	if err != nil {
		return e.controlPlaneUnconfirmed(err, o)
	}
	timeout := o.ControlPlaneTimeout
	if timeout == 0 {
		timeout = 30 * time.Minute
	}
	poll := o.Roll.Poll
	if poll <= 0 {
		poll = 10 * time.Second
	}
	want := "v" + o.To
	deadline := time.Now().Add(timeout)
	for {
		done, state := controlPlaneAt(ctx, client, want)
		if done {
			e.opts.UI.Notef("upgrade: control plane upgraded: %s\n", state)
			return state, nil
		}
		if time.Now().After(deadline) {
			return "", Failure("the control plane has not finished its upgrade to %s after %s: %s; read `journalctl -u kforge-upgrade` on the control plane (aws ssm start-session); run `kforge upgrade %s --to %s` again to keep waiting", want, timeout, state, e.Name, o.To)
		}
		select {
		case <-ctx.Done():
			return "", &ExitError{Code: ExitInterrupted, Err: fmt.Errorf("upgrade interrupted while the control plane upgrades: run `kforge upgrade %s --to %s` again to continue", e.Name, o.To)}
		case <-time.After(poll):
		}
	}
}

// controlPlaneAt reports whether the API server and every control-plane
// Node's kubelet run want ("v1.36.3") with the Nodes Ready and
// schedulable, and the state it saw, in words.
func controlPlaneAt(ctx context.Context, client kubernetes.Interface, want string) (bool, string) {
	v, err := client.Discovery().ServerVersion()
	if err != nil {
		return false, fmt.Sprintf("the API server does not answer: %v", err)
	}
	if v.GitVersion != want {
		return false, "the API server reports " + v.GitVersion
	}
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: controlPlaneRoleLabel})
	if err != nil {
		return false, fmt.Sprintf("the API server reports %s; listing the control-plane Nodes: %v", want, err)
	}
	if len(nodes.Items) == 0 {
		return false, fmt.Sprintf("the API server reports %s; no Node has the %s label", want, controlPlaneRoleLabel)
	}
	var seen []string
	for _, n := range nodes.Items {
		switch {
		case n.Status.NodeInfo.KubeletVersion != want:
			return false, fmt.Sprintf("the API server reports %s; node %s's kubelet is %s", want, n.Name, n.Status.NodeInfo.KubeletVersion)
		case !nodelifecycle.Ready(n):
			return false, fmt.Sprintf("the API server reports %s; node %s (kubelet %s) is not Ready", want, n.Name, want)
		case n.Spec.Unschedulable:
			return false, fmt.Sprintf("the API server reports %s; node %s (kubelet %s) is still cordoned", want, n.Name, want)
		}
		seen = append(seen, n.Name)
	}
	return true, fmt.Sprintf("API server reports %s; control-plane node %s: kubelet %s, Ready", want, strings.Join(seen, ", "), want)
}

// controlPlaneRoleLabel is the label kubeadm gives control-plane Nodes.
const controlPlaneRoleLabel = "node-role.kubernetes.io/control-plane"

// PlanLines is the text view of the plan: the versions, then the steps.
func (res *UpgradeResult) PlanLines() []string {
	lines := []string{fmt.Sprintf("Upgrade %s: Kubernetes %s -> %s (%s)", res.Env, res.From, res.To, res.Kind)}
	for i, s := range res.Steps {
		lines = append(lines, fmt.Sprintf("  %d. %s", i+1, s))
	}
	if res.DryRun {
		lines = append(lines, "", "Dry run: nothing changed.")
	}
	return lines
}
