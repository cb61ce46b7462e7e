package cluster

import (
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func change(addr, module, typ string, index any, before any, reason tfjson.ActionReason, actions ...tfjson.Action) *tfjson.ResourceChange {
	return &tfjson.ResourceChange{
		Address: addr, ModuleAddress: module, Type: typ, Index: index, Mode: tfjson.ManagedResourceMode,
		ActionReason: reason, Change: &tfjson.Change{Actions: actions, Before: before},
	}
}

var replace = []tfjson.Action{tfjson.ActionDelete, tfjson.ActionCreate}

// The changes a running cluster does not survive are listed with the
// setting behind them; what only adds or updates, what Terraform replaces
// because it is tainted or asked to, and an empty group's removal are not.
func TestDisruptions(t *testing.T) {
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		change(`module.ingress.aws_lb_target_group.this["https"]`, "module.ingress", "aws_lb_target_group", "https", nil, tfjson.ActionReasonReplaceBecauseCannotUpdate, replace...),
		change("module.network.aws_vpc.this", "module.network", "aws_vpc", nil, nil, "", replace...),
		change(`module.workers.aws_autoscaling_group.this["gpu"]`, "module.workers", "aws_autoscaling_group", "gpu",
			map[string]any{"desired_capacity": float64(3)}, "", tfjson.ActionDelete),
		change(`module.workers.aws_autoscaling_group.this["idle"]`, "module.workers", "aws_autoscaling_group", "idle",
			map[string]any{"desired_capacity": float64(0)}, "", tfjson.ActionDelete),
		change("module.ingress.aws_lb.this", "module.ingress", "aws_lb", nil, nil, tfjson.ActionReasonReplaceBecauseTainted, replace...),
		change("module.dns.aws_route53_zone.api", "module.dns", "aws_route53_zone", nil, nil, tfjson.ActionReasonReplaceByRequest, replace...),
		change("module.network.aws_subnet.private[0]", "module.network", "aws_subnet", 0, nil, "", tfjson.ActionUpdate),
		change("module.buckets.aws_s3_object.agent", "module.buckets", "aws_s3_object", nil, nil, "", replace...),
		change("module.network.aws_nat_gateway.this[1]", "module.network", "aws_nat_gateway", 1, nil, "", tfjson.ActionCreate),
	}}
	got := Disruptions(plan, false)
	want := map[string]string{
		`module.ingress.aws_lb_target_group.this["https"]`: "ingress.httpNodePort or ingress.httpsNodePort changed",
		"module.network.aws_vpc.this":                      "network.vpcCIDR changed",
		`module.workers.aws_autoscaling_group.this["gpu"]`: "workerPools.gpu removed or renamed",
	}
	if len(got) != len(want) {
		t.Fatalf("disruptions %v, want %d", got, len(want))
	}
	for _, d := range got {
		if want[d.Address] != d.Setting {
			t.Errorf("%s: setting %q, want %q", d.Address, d.Setting, want[d.Address])
		}
		if d.Harm == "" {
			t.Errorf("%s: no harm said", d.Address)
		}
	}
	if h := got[2].Harm; !strings.Contains(h, "3 instance(s)") || !strings.Contains(h, "kforge.io/pool=gpu") {
		t.Errorf("removed pool's harm %q: want its instance count and the drain selector", h)
	}
}

// A version change through up is refused in favour of kforge upgrade,
// which allows it; the first apply (no version before) is no change.
func TestDisruptionsOfVersion(t *testing.T) {
	plan := func(before any) *tfjson.Plan {
		return &tfjson.Plan{OutputChanges: map[string]*tfjson.Change{
			"kubernetes_version": {Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: before, After: "1.36.6"},
		}}
	}
	ds := Disruptions(plan("1.35.10"), false)
	if len(ds) != 1 || !strings.Contains(ds[0].Harm, "kforge upgrade <env> --to 1.36.6") {
		t.Errorf("version change through up: %v, want one disruption pointing to kforge upgrade", ds)
	}
	if ds := Disruptions(plan("1.35.10"), true); len(ds) != 0 {
		t.Errorf("version change through kforge upgrade: %v, want none", ds)
	}
	if ds := Disruptions(plan(nil), false); len(ds) != 0 {
		t.Errorf("first apply: %v, want none", ds)
	}
}

// The pod and service ranges of a running cluster cannot change, not even
// through kforge upgrade; a first value is no change.
func TestDisruptionsOfNetworkRanges(t *testing.T) {
	plan := &tfjson.Plan{OutputChanges: map[string]*tfjson.Change{
		"pod_cidr":     {Actions: tfjson.Actions{tfjson.ActionUpdate}, Before: "10.244.0.0/16", After: "10.200.0.0/16"},
		"service_cidr": {Actions: tfjson.Actions{tfjson.ActionCreate}, After: "10.96.0.0/12"},
	}}
	ds := Disruptions(plan, true)
	if len(ds) != 1 || ds[0].Address != "output.pod_cidr" || !strings.Contains(ds[0].Setting, "kubernetes.podCIDR changed from 10.244.0.0/16 to 10.200.0.0/16") {
		t.Errorf("pod range change: %v, want one disruption naming kubernetes.podCIDR", ds)
	}
}

// The refusal is a usage error (exit code 2) that lists each disruption
// and names the way through.
func TestDisruptionError(t *testing.T) {
	err := disruptionError("prod", []Disruption{{Address: "module.network.aws_vpc.this", Action: "replace", Setting: "network.vpcCIDR changed", Harm: "h"}})
	if ExitCode(err) != ExitUsage {
		t.Errorf("exit code %d, want %d", ExitCode(err), ExitUsage)
	}
	for _, want := range []string{"nothing was applied", "module.network.aws_vpc.this (replace): network.vpcCIDR changed: h", "kforge up prod --allow-disruption"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

// A plan made again after a failed apply may disrupt only what the
// confirmed plan did: a disruption it adds, or the same resource under
// another action, is refused.
func TestRecoveryPlanDisruptsOnlyWhatWasConfirmed(t *testing.T) {
	confirmed := Disruptions(&tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		change("module.network.aws_vpc.this", "module.network", "aws_vpc", nil, nil, "", replace...),
	}}, false)
	again := Disruptions(&tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		change("module.network.aws_vpc.this", "module.network", "aws_vpc", nil, nil, "", replace...),
		change(`module.workers.aws_autoscaling_group.this["gpu"]`, "module.workers", "aws_autoscaling_group", "gpu",
			map[string]any{"desired_capacity": float64(3)}, "", tfjson.ActionDelete),
	}}, false)
	if got := unaccepted(again, confirmed); len(got) != 1 || got[0].Address != `module.workers.aws_autoscaling_group.this["gpu"]` {
		t.Errorf("unaccepted = %v, want only the removed pool", got)
	}
	if got := unaccepted(confirmed, confirmed); len(got) != 0 {
		t.Errorf("the confirmed disruptions again: unaccepted = %v, want none", got)
	}
	destroyed := []Disruption{{Address: "module.network.aws_vpc.this", Action: "destroy"}}
	if got := unaccepted(destroyed, confirmed); len(got) != 1 {
		t.Errorf("a confirmed replace is not a destroy: unaccepted = %v", got)
	}
}

// A plan that leaves no object at bootstrap/cluster.json (a moved key, a
// removed resource) is a disruption: deleting a versioned object deletes
// every version, and every running agent reads that key. The same object
// replaced at its key, and an agent binary's object replaced or removed,
// are not.
func TestDisruptionsOfTheClusterConfiguration(t *testing.T) {
	object := func(addr, before, after string, actions ...tfjson.Action) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Address: addr, Type: "aws_s3_object", Mode: tfjson.ManagedResourceMode,
			Change: &tfjson.Change{Actions: actions, Before: map[string]any{"key": before}, After: map[string]any{"key": after}}}
	}
	for _, tc := range []struct {
		change    *tfjson.ResourceChange
		disrupted bool
	}{
		{object("aws_s3_object.cluster_config", "bootstrap/cluster.json", "bootstrap/v2/cluster.json", replace...), true},
		{object("aws_s3_object.cluster_config", "bootstrap/cluster.json", "", tfjson.ActionDelete), true},
		{object("aws_s3_object.cluster_config", "bootstrap/cluster.json", "bootstrap/cluster.json", replace...), false},
		{object("aws_s3_object.cluster_config", "bootstrap/cluster.json", "bootstrap/cluster.json", tfjson.ActionUpdate), false},
		{object(`aws_s3_object.agent["arm64"]`, "bootstrap/kforge-node-arm64", "", tfjson.ActionDelete), false},
	} {
		ds := Disruptions(&tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{tc.change}}, false)
		if got := len(ds) == 1 && strings.Contains(ds[0].Harm, "every running node agent reads"); got != tc.disrupted || len(ds) > 1 {
			t.Errorf("%s %v %v: %v, want disrupted=%v", tc.change.Address, tc.change.Change.Actions, tc.change.Change.After, ds, tc.disrupted)
		}
	}
}
