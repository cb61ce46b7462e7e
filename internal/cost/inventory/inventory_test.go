package inventory

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/kforge/kforge/internal/testutil/fixture"
)

func TestModuleCallNames(t *testing.T) {
	tests := []struct {
		addr string
		want []string
	}{
		{"", nil},
		{"module.workers", []string{"workers"}},
		{`module.workers["a.b]c"].module.inner[0]`, []string{"workers", "inner"}},
		{`module.a[3]`, []string{"a"}},
	}
	for _, tt := range tests {
		if got := moduleCallNames(tt.addr); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("moduleCallNames(%q) = %v, want %v", tt.addr, got, tt.want)
		}
	}
}

func TestIndexKey(t *testing.T) {
	for idx, want := range map[any]string{nil: "", "general": `["general"]`, float64(2): "[2]", json.Number("3"): "[3]"} {
		if got := indexKey(idx); got != want {
			t.Errorf("indexKey(%v) = %q, want %q", idx, got, want)
		}
	}
}

// TestGroupsOfRealPlan resolves the ASGs of a real plan (launch template
// ids are unknown there) to their launch templates, roles and pools.
func TestGroupsOfRealPlan(t *testing.T) {
	plan := fixture.Plan(t, filepath.Join("..", "testdata", "plans", "prod.plan.json.gz"))
	inv, err := FromPlan(plan)
	if err != nil {
		t.Fatal(err)
	}
	if got := inv.Region(); got != "eu-west-1" {
		t.Errorf("region = %q", got)
	}
	groups := inv.Groups()
	pools, _ := plan.Variables["worker_pools"].Value.(map[string]any)
	if len(groups) != len(pools)+1 {
		t.Fatalf("%d groups, want %d pools + controller", len(groups), len(pools))
	}
	if groups[0].Role != RoleController || groups[0].LaunchTemplate == nil {
		t.Errorf("first group = %+v, want the controller with its launch template", groups[0])
	}
	if want := plan.Variables["controller_instance_type"].Value; len(groups[0].InstanceTypes) != 1 || groups[0].InstanceTypes[0] != want {
		t.Errorf("controller types = %v, want [%v]", groups[0].InstanceTypes, want)
	}
	for _, g := range groups[1:] {
		p, ok := pools[g.Pool].(map[string]any)
		if !ok {
			t.Errorf("group %s: pool %q not in the inputs", g.ASG.Address, g.Pool)
			continue
		}
		var types []string
		for _, it := range p["instance_types"].([]any) {
			types = append(types, it.(string))
		}
		if !reflect.DeepEqual(g.InstanceTypes, types) {
			t.Errorf("pool %s types = %v, want %v", g.Pool, g.InstanceTypes, types)
		}
		if g.LaunchTemplate == nil || g.VolumeGB != p["volume_size"] || g.VolumeType != "gp3" {
			t.Errorf("pool %s volume = %v GB %s (lt %v), want %v GB gp3", g.Pool, g.VolumeGB, g.VolumeType, g.LaunchTemplate != nil, p["volume_size"])
		}
		if g.Min != int(p["min_size"].(float64)) || g.Max != int(p["max_size"].(float64)) || g.Desired != int(p["desired_size"].(float64)) {
			t.Errorf("pool %s sizes = %d/%d/%d", g.Pool, g.Min, g.Desired, g.Max)
		}
		if g.PublicIP {
			t.Errorf("pool %s: prod nodes sit behind NAT gateways, no public IP", g.Pool)
		}
	}
}

// TestOnDemandSplit follows EC2 Auto Scaling: the base first, then the
// percentage above it, fractions rounded in favour of on-demand.
func TestOnDemandSplit(t *testing.T) {
	for _, tc := range []struct{ base, percent, n, od int }{
		{0, 100, 3, 3}, {0, 0, 3, 0}, {1, 0, 3, 1}, {1, 0, 0, 0},
		{1, 50, 2, 2}, {1, 50, 4, 3}, {2, 0, 1, 1}, {0, 30, 10, 3}, {0, 25, 3, 1},
	} {
		g := Group{OnDemandBase: tc.base, OnDemandPercent: tc.percent}
		if got := g.OnDemand(tc.n); got != tc.od || g.Spot(tc.n) != tc.n-tc.od {
			t.Errorf("base %d, %d%% above, %d instances: %d on-demand, want %d", tc.base, tc.percent, tc.n, got, tc.od)
		}
	}
}
