package cost

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// mixedASG is an Auto Scaling Group with a mixed instances policy over
// types, in priority order, split between on-demand and Spot.
func mixedASG(name string, desired, max float64, lt string, types []string, base, percent float64, odStrategy string) *tfjson.StateResource {
	r := asg(name, desired, desired, max, lt, map[string]string{"kforge.io/pool": name})
	delete(r.AttributeValues, "launch_template")
	var overrides []any
	for _, t := range types {
		overrides = append(overrides, map[string]any{"instance_type": t})
	}
	dist := map[string]any{
		"on_demand_base_capacity":                  base,
		"on_demand_percentage_above_base_capacity": percent,
		"spot_allocation_strategy":                 "price-capacity-optimized",
	}
	if odStrategy != "" {
		dist["on_demand_allocation_strategy"] = odStrategy
	}
	r.AttributeValues["mixed_instances_policy"] = []any{map[string]any{
		"instances_distribution": []any{dist},
		"launch_template": []any{map[string]any{
			"launch_template_specification": []any{map[string]any{"launch_template_name": lt}},
			"override":                      overrides,
		}},
	}}
	return r
}

func estimateOf(t *testing.T, plan *tfjson.Plan) *Estimate {
	t.Helper()
	e, err := FromPlan(plan, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func textOf(t *testing.T, e *Estimate) string {
	t.Helper()
	var b bytes.Buffer
	if err := e.WriteText(&b); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// Burstable nodes launch in unlimited mode (no credit_specification in the
// launch templates), so each such group gets a no-price line naming the
// surplus-credit rate and the type's baseline.
func TestBurstableGroupsNameTheirCPUCreditRate(t *testing.T) {
	standard := launchTemplate("std-lt", "t3.medium", 20, "gp3", 0)
	standard.AttributeValues["credit_specification"] = []any{map[string]any{"cpu_credits": "standard"}}
	e := estimateOf(t, planOf(map[string]any{"region": "us-east-1"},
		asg("ctl", 1, 1, 1, "ctl-lt", map[string]string{"kforge.io/role": "controller"}),
		launchTemplate("ctl-lt", "t4g.small", 20, "gp3", 0),
		asg("big", 1, 1, 2, "big-lt", map[string]string{"kforge.io/pool": "big"}),
		launchTemplate("big-lt", "t3.large", 20, "gp3", 0),
		asg("fixed", 1, 1, 1, "fixed-lt", map[string]string{"kforge.io/pool": "fixed"}),
		launchTemplate("fixed-lt", "m6i.large", 20, "gp3", 0),
		asg("std", 1, 1, 1, "std-lt", map[string]string{"kforge.io/pool": "std"}),
		standard,
		mixedASG("mixed", 1, 3, "mixed-lt", []string{"t4g.medium", "c6g.large"}, 0, 0, ""),
		launchTemplate("mixed-lt", "t4g.medium", 20, "gp3", 0)))

	for who, want := range map[string]string{
		"controller: ": "CPU credits above the 20 % baseline (t4g.small): 0.04 USD per vCPU-hour (unlimited mode)",
		"pool big: ":   "CPU credits above the 30 % baseline (t3.large): 0.05 USD per vCPU-hour (unlimited mode)",
		"pool mixed: ": "CPU credits above the 20 % baseline (t4g.medium): 0.04 USD per vCPU-hour (unlimited mode)",
	} {
		l := lineFor(t, e, "EC2", who+"CPU credits")
		if l.Item != who+want {
			t.Errorf("item %q, want %q", l.Item, who+want)
		}
		if l.Priced || !strings.Contains(l.NoPrice, "unlimited") {
			t.Errorf("%s: %+v, want a no-price line saying why", who, l)
		}
		if l.Controller != (who == "controller: ") {
			t.Errorf("%s: controller mark %v", who, l.Controller)
		}
	}
	for _, l := range e.Lines {
		if strings.Contains(l.Item, "CPU credits") && (strings.Contains(l.Item, "pool fixed") || strings.Contains(l.Item, "pool std")) {
			t.Errorf("credit line for a non-burstable or standard-mode pool: %q", l.Item)
		}
	}
	if !strings.Contains(textOf(t, e), "no price: aws_autoscaling_group.ctl: ") {
		t.Error("the text does not list the credit line among the items without a price")
	}
}

// The baselines are the EC2 User Guide's credit table, per size and the
// same for t3, t3a and t4g.
func TestBurstableBaselines(t *testing.T) {
	for typ, want := range map[string]float64{
		"t3.nano": 5, "t3a.micro": 10, "t4g.small": 20, "t3.medium": 20,
		"t4g.large": 30, "t3a.xlarge": 40, "t3.2xlarge": 40,
	} {
		if got, ok := burstableBaseline(typ); !ok || got != want {
			t.Errorf("%s: baseline %v (%v), want %v %%", typ, got, ok, want)
		}
	}
	if _, ok := burstableBaseline("m6i.large"); ok {
		t.Error("m6i.large has a burstable baseline")
	}
}

// A pool with several types may run any of them: the low end is the desired
// count at the cheapest Spot type (first type for prioritized on-demand),
// the high end the maximum count at the dearest listed type.
func TestSeveralTypesSpanTheirPrices(t *testing.T) {
	pt, _ := Prices("us-east-1")
	h := 730.0
	us := map[string]any{"region": "us-east-1"}
	// poolLine estimates a pool "general" of desired..max nodes of types,
	// its launch template naming the first type, and returns its EC2 line.
	poolLine := func(t *testing.T, desired, max float64, types []string, percent float64, odStrategy string) Line {
		t.Helper()
		e := estimateOf(t, planOf(us,
			mixedASG("general", desired, max, "w-lt", types, 0, percent, odStrategy),
			launchTemplate("w-lt", types[0], 20, "gp3", 0)))
		return lineFor(t, e, "EC2", fmt.Sprintf("pool general: %v..%v ×", desired, max))
	}

	t.Run("spot", func(t *testing.T) {
		l := poolLine(t, 1, 3, []string{"c7g.large", "t4g.medium", "c6g.large"}, 0, "")
		want := Range{1 * h * pt.SpotHourlyTypical["t4g.medium"], 3 * h * pt.SpotHourlyTypical["c7g.large"]}
		if !l.Spot || !near(l.Monthly.Low, want.Low) || !near(l.Monthly.High, want.High) {
			t.Errorf("Spot pool %+v, want %+v", l.Monthly, want)
		}
		od := Range{1 * h * pt.EC2Hourly["c7g.large"], 3 * h * pt.EC2Hourly["c7g.large"]}
		if l.OnDemand == nil || !near(l.OnDemand.Low, od.Low) || !near(l.OnDemand.High, od.High) {
			t.Errorf("all on-demand %+v, want %+v (prioritized: the first type; the dearest at max)", l.OnDemand, od)
		}
		if !strings.Contains(l.Item, "c7g.large/t4g.medium/c6g.large") || !strings.Contains(l.Item, "low t4g.medium, high c7g.large") {
			t.Errorf("item %q does not name the types and which prices the range", l.Item)
		}
	})
	t.Run("on-demand, prioritized", func(t *testing.T) {
		l := poolLine(t, 2, 4, []string{"m6i.large", "m7i.large"}, 100, "prioritized")
		want := Range{2 * h * pt.EC2Hourly["m6i.large"], 4 * h * pt.EC2Hourly["m7i.large"]}
		if l.Spot || !near(l.Monthly.Low, want.Low) || !near(l.Monthly.High, want.High) {
			t.Errorf("on-demand pool %+v, want %+v", l.Monthly, want)
		}
	})
	t.Run("on-demand, lowest-price", func(t *testing.T) {
		l := poolLine(t, 2, 4, []string{"m7i.large", "m6i.large"}, 100, "lowest-price")
		want := Range{2 * h * pt.EC2Hourly["m6i.large"], 4 * h * pt.EC2Hourly["m7i.large"]}
		if !near(l.Monthly.Low, want.Low) || !near(l.Monthly.High, want.High) {
			t.Errorf("on-demand pool %+v, want %+v", l.Monthly, want)
		}
	})
	t.Run("a listed type without a price is said, not skipped", func(t *testing.T) {
		l := poolLine(t, 1, 3, []string{"t4g.medium", "x9.mega"}, 0, "")
		if l.Priced || !strings.Contains(l.NoPrice, "x9.mega") {
			t.Errorf("line %+v, want no price naming x9.mega", l)
		}
	})
}

// The key rotates yearly (modules/kms): each rotation's backing key costs
// another key-month, for the first two rotations.
func TestKMSRotationIsNamed(t *testing.T) {
	key := func(vals map[string]any) *tfjson.StateResource {
		return &tfjson.StateResource{Type: "aws_kms_key", Name: "k", AttributeValues: vals}
	}
	rotating := lineFor(t, estimateOf(t, planOf(map[string]any{"region": "us-east-1"}, key(map[string]any{"enable_key_rotation": true}))), "KMS", "key")
	if rotating.Monthly != fixed(1) || rotating.Item != "customer managed key; rotation every 365 days: 2.00 after the 1st, 3.00 from the 2nd" {
		t.Errorf("rotating key %+v", rotating)
	}
	custom := lineFor(t, estimateOf(t, planOf(map[string]any{"region": "us-east-1"}, key(map[string]any{"enable_key_rotation": true, "rotation_period_in_days": float64(90)}))), "KMS", "key")
	if !strings.Contains(custom.Item, "every 90 days") {
		t.Errorf("custom period: %q", custom.Item)
	}
	plain := lineFor(t, estimateOf(t, planOf(map[string]any{"region": "us-east-1"}, key(map[string]any{"enable_key_rotation": false}))), "KMS", "key")
	if plain.Item != "customer managed key" || plain.Monthly != fixed(1) {
		t.Errorf("key without rotation %+v", plain)
	}
}

// Traffic between zones is charged; an estimate over more than one zone
// says it leaves it out.
func TestInterAZTransferIsNamed(t *testing.T) {
	for _, tt := range []struct {
		name string
		vars map[string]any
		res  []*tfjson.StateResource
		want bool
	}{
		{"az_count 2", map[string]any{"region": "us-east-1", "az_count": float64(2)}, nil, true},
		{"az_count 1", map[string]any{"region": "us-east-1", "az_count": float64(1)}, nil, false},
		{"subnets in 3 zones", map[string]any{"region": "us-east-1"}, []*tfjson.StateResource{
			{Type: "aws_subnet", Name: "a", AttributeValues: map[string]any{"availability_zone": "us-east-1a"}},
			{Type: "aws_subnet", Name: "b", AttributeValues: map[string]any{"availability_zone": "us-east-1b"}},
			{Type: "aws_subnet", Name: "c", AttributeValues: map[string]any{"availability_zone": "us-east-1c"}},
		}, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := estimateOf(t, planOf(tt.vars, tt.res...))
			text := textOf(t, e)
			got := strings.Contains(text, "inter-AZ data transfer") && strings.Contains(text, "0.01 USD/GB each way) not included")
			if got != tt.want {
				t.Errorf("inter-AZ named: %v, want %v:\n%s", got, tt.want, text)
			}
			if !strings.Contains(text, "data transfer out not included") {
				t.Error("data transfer out is no longer named")
			}
			if tt.want && (len(e.NotIncluded) != 2 || !strings.HasPrefix(e.NotIncluded[1], "inter-AZ data transfer")) {
				t.Errorf("not_included %q", e.NotIncluded)
			}
		})
	}
}

// The NLB's capacity units follow the same small-cluster traffic as the NAT
// gateways: an NLCU is 1 GB an hour of TCP traffic, so 10 GB a month is
// 10/730 NLCU, not a whole one (730 GB).
func TestNLBCapacityFollowsTheTrafficAssumption(t *testing.T) {
	a := DefaultAssumptions()
	if a.NLBDataGB != a.NATDataGB {
		t.Errorf("NLB %v GB, NAT %v GB: one lightly used cluster, one traffic figure", a.NLBDataGB, a.NATDataGB)
	}
	pt, _ := Prices("us-east-1")
	e := estimateOf(t, planOf(map[string]any{"region": "us-east-1"},
		&tfjson.StateResource{Type: "aws_lb", Name: "nlb", AttributeValues: map[string]any{"load_balancer_type": "network", "internal": true}}))
	l := lineFor(t, e, "ELB", "network load balancer")
	if want := 730*pt.NLBHourly + a.NLBDataGB*pt.NLBLCUHourly; !near(l.Monthly.Low, want) {
		t.Errorf("NLB %v, want %v", l.Monthly.Low, want)
	}
	if l.Item != "network load balancer (hours + 10 GB processed = 0.014 NLCU)" {
		t.Errorf("item %q", l.Item)
	}
	if text := textOf(t, e); !strings.Contains(text, "10 GB processed by the NLB (0.014 NLCU on average)") {
		t.Errorf("assumptions do not state the NLB traffic:\n%s", text)
	}
}

// Flow logs to S3 are vended logs, charged per GB delivered.
func TestFlowLogsArePricedPerGB(t *testing.T) {
	flowLog := &tfjson.StateResource{Type: "aws_flow_log", Name: "vpc", AttributeValues: map[string]any{"log_destination_type": "s3", "traffic_type": "ALL"}}
	us, _ := Prices("us-east-1")
	a := DefaultAssumptions()

	e := estimateOf(t, planOf(map[string]any{"region": "us-east-1"}, flowLog))
	l := lineFor(t, e, "CloudWatch", "VPC flow logs")
	if !l.Priced || !near(l.Monthly.Low, a.FlowLogsGB*us.VendedLogsS3GB) || us.VendedLogsS3GB != 0.25 {
		t.Errorf("flow logs in us-east-1: %+v", l)
	}

	// A region whose table lacks the rate: no price, and the line says how
	// it is charged.
	eu := lineFor(t, estimateOf(t, planOf(map[string]any{"region": "eu-west-1"}, flowLog)), "CloudWatch", "VPC flow logs")
	if eu.Priced || !strings.Contains(eu.NoPrice, "per GB") {
		t.Errorf("flow logs in eu-west-1: %+v", eu)
	}

	// The emulator plans leave the resource out; the variable still says
	// the real cluster has it.
	e = estimateOf(t, planOf(map[string]any{"region": "us-east-1", "vpc_flow_logs": true}))
	l = lineFor(t, e, "CloudWatch", "VPC flow logs")
	if l.Address != "var.vpc_flow_logs" || !l.Priced {
		t.Errorf("flow logs from the variable: %+v", l)
	}
	e = estimateOf(t, planOf(map[string]any{"region": "us-east-1", "vpc_flow_logs": true}, flowLog))
	n := 0
	for _, l := range e.Lines {
		if strings.Contains(l.Item, "VPC flow logs") {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d flow log lines with the resource in the plan, want 1", n)
	}
}
