package cluster

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/tfrun"
)

// Disruption is a planned change that a running cluster does not survive,
// or that AWS refuses while the cluster holds what it would delete: the
// emulator applies all of them, so the plan is the place to stop them.
type Disruption struct {
	// Address is the resource (or, for the version, the output) changed.
	Address string `json:"address"`
	// Action is "replace" or "destroy" (a resource), or "change" (an
	// output).
	Action string `json:"action"`
	// Setting is what in the environment file usually causes it.
	Setting string `json:"setting"`
	// Harm is what the change would do to the running cluster.
	Harm string `json:"harm"`
}

func (d Disruption) String() string {
	return fmt.Sprintf("%s (%s): %s: %s", d.Address, d.Action, d.Setting, d.Harm)
}

// disruptiveTypes are the resources a running cluster cannot lose or have
// replaced under it, with the setting that usually causes it and the harm.
var disruptiveTypes = map[string]struct{ setting, harm string }{
	"aws_vpc": {"network.vpcCIDR changed",
		"every subnet, security group and mount target goes with the VPC while the nodes still use them: the nodes lose their rules and EFS first, then AWS refuses the deletes (DependencyViolation)"},
	"aws_subnet": {"network.azCount lowered or network.natGateway changed",
		"AWS refuses to delete a subnet that holds nodes (DependencyViolation), after their routes and mount target are gone"},
	"aws_nat_gateway": {"network.natGateway turned off",
		"the nodes in the private subnets lose their only way out (registries, AWS APIs) before anything else changes"},
	"aws_security_group": {"network.vpcCIDR changed",
		"the nodes' rules are deleted first, and AWS refuses to delete a group that instances use (DependencyViolation)"},
	"aws_lb": {"network.azCount lowered",
		"the ingress NLB is deleted and made again: ingress is down meanwhile, and it comes back with new addresses and a new DNS name"},
	"aws_lb_target_group": {"ingress.httpNodePort or ingress.httpsNodePort changed",
		"AWS refuses to delete a target group its listener uses (ResourceInUse), after the workers' rule for the old port is gone: that ingress stays down"},
	"aws_route53_zone": {"dns.domain changed",
		"api.<domain> stops resolving for every node (kubelets and Cilium name it), the API server's certificate does not name the new one, and the domain must be delegated to new name servers"},
	"aws_efs_mount_target": {"network.azCount lowered or network.natGateway changed",
		"EFS mounts in that zone hang while its mount target is gone"},
	"aws_efs_file_system": {"the storage module changed",
		"every EFS volume's data is deleted"},
	"aws_kms_key": {"the kms module changed",
		"the key is scheduled for deletion: the certs bucket, state, EBS volumes and EFS it encrypts become unreadable"},
	"aws_s3_bucket": {"logging.vpcFlowLogs and logging.bucketAccessLogs both turned off (the log bucket)",
		"the bucket's objects are deleted with it, or, where it is kept from forced deletes, the delete fails (BucketNotEmpty) on this and every later up"},
}

// Disruptions lists the plan's changes that would disrupt the running
// cluster, and changes of the network ranges, which a running cluster
// cannot take. Replacements Terraform makes because a resource is tainted
// (a failed create) or because they were asked for (-replace) are not
// listed; nor is an Auto Scaling group that runs no instance, nor a version
// change when versionChange (kforge upgrade) allows it.
func Disruptions(plan *tfjson.Plan, versionChange bool) []Disruption {
	if plan == nil {
		return nil
	}
	var out []Disruption
	for _, rc := range plan.ResourceChanges {
		if d, ok := resourceDisruption(rc); ok {
			out = append(out, d)
		}
	}
	if c := changedOutput(plan, "kubernetes_version"); c != nil && !versionChange {
		out = append(out, Disruption{
			Address: "output.kubernetes_version", Action: "change",
			Setting: fmt.Sprintf("kubernetes.version changed from %v to %v", c.Before, c.After),
			Harm:    fmt.Sprintf("the control plane's upgrade timer would move it from %v to %v within minutes, without the checks kforge upgrade makes before anything changes (one minor at a time from the applied version, a control-plane agent that knows the new minor), and no worker would be rolled: use `kforge upgrade <env> --to %v` instead", c.Before, c.After, c.After),
		})
	}
	for _, r := range []struct{ output, setting, kept string }{
		{"pod_cidr", "kubernetes.podCIDR", "every Node keeps its pod range from the old one"},
		{"service_cidr", "kubernetes.serviceCIDR", "every Service keeps its address in the old one"},
	} {
		if c := changedOutput(plan, r.output); c != nil {
			out = append(out, Disruption{
				Address: "output." + r.output, Action: "change",
				Setting: fmt.Sprintf("%s changed from %v to %v", r.setting, c.Before, c.After),
				Harm:    fmt.Sprintf("the running control plane keeps %v; at its next replacement kubeadm would start on %v over an etcd restored from the old one, where %s: restore %v", c.Before, c.After, r.kept, c.Before),
			})
		}
	}
	return out
}

// resourceDisruption is the disruption a resource change makes, if any.
func resourceDisruption(rc *tfjson.ResourceChange) (Disruption, bool) {
	if rc.Change == nil || rc.Mode == tfjson.DataResourceMode || !rc.Change.Actions.Delete() && !rc.Change.Actions.Replace() {
		return Disruption{}, false
	}
	if rc.ActionReason == tfjson.ActionReasonReplaceBecauseTainted || rc.ActionReason == tfjson.ActionReasonReplaceByRequest {
		return Disruption{}, false
	}
	d := Disruption{Address: rc.Address, Action: "destroy"}
	if rc.Change.Actions.Replace() {
		d.Action = "replace"
	}
	if rc.Type == "aws_autoscaling_group" {
		n := runningInstances(rc.Change.Before)
		setting, selector := groupNodes(rc)
		d.Setting = setting
		d.Harm = fmt.Sprintf("its %d instance(s) are terminated at once, without a drain (the drain hook goes first): drain its nodes first (kubectl drain --selector %s)", n, selector)
		return d, n > 0
	}
	if rc.Type == "aws_s3_object" {
		d.Setting, d.Harm = clusterConfigMoved.setting, clusterConfigMoved.harm
		return d, movesClusterConfig(rc)
	}
	t, ok := disruptiveTypes[rc.Type]
	d.Setting, d.Harm = t.setting, t.harm
	return d, ok
}

// clusterConfigMoved is the disruption of a plan that leaves no object at
// certstore.ConfigKey.
var clusterConfigMoved = struct{ setting, harm string }{
	"the key of the cluster configuration object changed (a kforge release that moved it)",
	"Terraform deletes every version of " + certstore.ConfigKey + ", which every running node agent reads by that key (its backups, join tokens, CSR approvals and drains, and a reboot's bootstrap): they stop until every node is replaced; write the new key with a resource of its own and keep this one beside it",
}

// movesClusterConfig tells whether an object change leaves no object at
// certstore.ConfigKey: deleting a versioned object deletes all its versions.
// The agent binaries are not such: a node reads its agent once, at boot,
// by the object version its launch template pins, and a group launches
// from its template's latest version.
func movesClusterConfig(rc *tfjson.ResourceChange) bool {
	if stringAttr(rc.Change.Before, "key") != certstore.ConfigKey {
		return false
	}
	return !rc.Change.Actions.Replace() || stringAttr(rc.Change.After, "key") != certstore.ConfigKey
}

// stringAttr is a string attribute of a change's before or after value.
func stringAttr(value any, attr string) string {
	m, _ := value.(map[string]any)
	s, _ := m[attr].(string)
	return s
}

// changedOutput is the change of an output that had a value and gets
// another; nil for a new output or an unchanged one.
func changedOutput(plan *tfjson.Plan, name string) *tfjson.Change {
	c, ok := plan.OutputChanges[name]
	if !ok || c == nil || c.Before == nil || c.After == nil || reflect.DeepEqual(c.Before, c.After) {
		return nil
	}
	return c
}

// runningInstances is an Auto Scaling group's desired capacity before the
// change (refreshed, so what Cluster Autoscaler last set).
func runningInstances(before any) int {
	m, ok := before.(map[string]any)
	if !ok {
		return 0
	}
	if n, ok := m["desired_capacity"].(float64); ok {
		return int(n)
	}
	return 0
}

// groupNodes names the environment setting behind an Auto Scaling group's
// removal and the label selector of its nodes: the worker pool of its key,
// or the control plane.
func groupNodes(rc *tfjson.ResourceChange) (setting, selector string) {
	if name, ok := rc.Index.(string); ok && strings.HasPrefix(rc.ModuleAddress, "module.workers") {
		return fmt.Sprintf("workerPools.%s removed or renamed", name), "kforge.io/pool=" + name
	}
	return "the control plane's group changed", "node-role.kubernetes.io/control-plane"
}

// DisruptionText is the list of disruptions as plan and up print it after
// a heading; "" when there are none.
func DisruptionText(heading string, ds []Disruption) string {
	if len(ds) == 0 {
		return ""
	}
	var b strings.Builder
	b.WriteString(heading + "\n")
	for _, d := range ds {
		fmt.Fprintf(&b, "  - %s\n", d)
	}
	return b.String()
}

// disruptionError refuses a plan with disruptions: exit code 2, nothing
// applied.
func disruptionError(env string, ds []Disruption) error {
	return UsageError("%srestore those settings (docs/OPERATIONS.md, \"Settings a running cluster cannot take in place\", says what each does), or, once the harm is accepted or prevented (a removed pool's nodes drained, a maintenance window), run `kforge up %s --allow-disruption`",
		DisruptionText("the plan would disrupt the running cluster, so nothing was applied:", ds), env)
}

// checkRecoveryPlan is the check on a plan made again after a failed
// apply (applyRecoveringLostCreates): it may disrupt only what the
// confirmed plan did, since --allow-disruption accepted those, and its
// creates must fit the quotas.
func (e *Env) checkRecoveryPlan(ctx context.Context, r *tfrun.Runner, again *tfrun.PlanResult, accepted []Disruption, versionChange bool) error {
	if !again.Changes {
		return nil
	}
	full, err := r.FullPlan(ctx, again)
	if err != nil {
		return err
	}
	if added := unaccepted(Disruptions(full, versionChange), accepted); len(added) > 0 {
		return UsageError("%sthe rest was not applied: run `kforge up %s` again to see the whole plan", DisruptionText("the plan made again to apply the rest would also disrupt what the confirmed plan did not:", added), e.Name)
	}
	return e.checkPlanQuotas(ctx, full, true)
}

// unaccepted are the disruptions of ds that are not in accepted (the same
// address and action).
func unaccepted(ds, accepted []Disruption) []Disruption {
	var out []Disruption
	for _, d := range ds {
		if !slices.ContainsFunc(accepted, func(a Disruption) bool { return a.Address == d.Address && a.Action == d.Action }) {
			out = append(out, d)
		}
	}
	return out
}

// DisruptionNote is what kforge plan prints about its disruptions.
func (r *PlanResult) DisruptionNote() string {
	return DisruptionText("Disruptions (kforge up refuses them without --allow-disruption):", r.Disruptions)
}
