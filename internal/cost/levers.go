package cost

import (
	"fmt"
	"sort"
	"strings"

	"github.com/kforge/kforge/internal/cost/inventory"
)

// Lever is one change to the environment file that would lower the total,
// with what it saves per month (desired..max workers, like the total).
type Lever struct {
	Name   string `json:"name"`
	Saving Range  `json:"saving"`
	// Change says what to edit in envs/<env>.yaml.
	Change string `json:"change"`
	// Tradeoff says what the saving costs in other terms.
	Tradeoff string `json:"tradeoff"`
}

// maxLevers is how many levers a report shows: the biggest first.
const maxLevers = 3

// gravitonFor maps an x86 family to the Graviton family of the same shape
// (vCPUs and memory per size) in the price tables.
var gravitonFor = map[string]string{
	"t3": "t4g", "t3a": "t4g",
	"m5": "m6g", "m6i": "m6g", "m7i": "m7g",
	"c5": "c6g", "c6i": "c6g", "c7i": "c7g",
}

// levers lists the biggest savings this environment has left: Spot for
// on-demand workers, Graviton for x86 nodes, fewer AZs, public subnets
// instead of NAT gateways. Production keeps its three AZs, so the AZ lever
// is not offered there.
func (p *pricer) levers() []Lever {
	var out []Lever
	if l, ok := p.spotLever(); ok {
		out = append(out, l)
	}
	if l, ok := p.gravitonLever(); ok {
		out = append(out, l)
	}
	if l, ok := p.azLever(); ok {
		out = append(out, l)
	}
	if l, ok := p.natLever(); ok {
		out = append(out, l)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Saving.Low > out[j].Saving.Low })
	if len(out) > maxLevers {
		out = out[:maxLevers]
	}
	return out
}

// groupRange prices a group at desired and max size with a per-instance
// function of (on-demand?) → hourly rate; ok is false when a rate is missing.
func (p *pricer) groupRange(g inventory.Group, rate func(spot bool) (float64, bool)) (Range, bool) {
	od, okOD := rate(false)
	spot, okSpot := rate(true)
	at := func(n int) (float64, bool) {
		v := float64(g.OnDemand(n)) * p.hourly(od)
		if s := g.Spot(n); s > 0 {
			if !okSpot {
				return 0, false
			}
			v += float64(s) * p.hourly(spot)
		}
		return v, okOD
	}
	low, ok1 := at(g.Desired)
	high, ok2 := at(g.Max)
	return Range{low, high}, ok1 && ok2
}

func (p *pricer) rates(typ string) func(spot bool) (float64, bool) {
	return func(spot bool) (float64, bool) {
		if spot {
			v, ok := p.prices.SpotHourlyTypical[typ]
			return v, ok
		}
		v, ok := p.prices.EC2Hourly[typ]
		return v, ok
	}
}

// spotLever: every worker pool's on-demand instances above its base on Spot.
func (p *pricer) spotLever() (Lever, bool) {
	var saving Range
	var pools []string
	for _, g := range p.inv.Groups() {
		if g.Role == inventory.RoleController || len(g.InstanceTypes) == 0 || g.OnDemandPercent == 0 {
			continue
		}
		// Priced as the pool's line is: with several types, the low end at
		// the cheapest (or first) and the high end at the dearest.
		now := p.groupPrice(g)
		spotted := g
		spotted.OnDemandPercent = 0
		then := p.groupPrice(spotted)
		if now.NoPrice != "" || then.NoPrice != "" || now.Monthly.Low-then.Monthly.Low <= 0 && now.Monthly.High-then.Monthly.High <= 0 {
			continue
		}
		saving = saving.add(now.Monthly.sub(then.Monthly))
		pools = append(pools, g.Pool)
	}
	if len(pools) == 0 {
		return Lever{}, false
	}
	return Lever{
		Name:     "Spot workers",
		Saving:   saving,
		Change:   "capacity: spot on worker pool(s) " + strings.Join(pools, ", ") + " (with two or more interchangeable instance types)",
		Tradeoff: "Spot nodes can be reclaimed with two minutes' notice; keep an onDemandBase for pods that must not move",
	}, true
}

// gravitonLever: every x86 node on the Graviton type of the same shape.
func (p *pricer) gravitonLever() (Lever, bool) {
	var saving Range
	var where []string
	for _, g := range p.inv.Groups() {
		if len(g.InstanceTypes) == 0 {
			continue
		}
		typ := g.InstanceTypes[0]
		family, size, _ := strings.Cut(typ, ".")
		arm, ok := gravitonFor[family]
		if !ok {
			continue
		}
		armType := arm + "." + size
		now, ok1 := p.groupRange(g, p.rates(typ))
		then, ok2 := p.groupRange(g, p.rates(armType))
		if !ok1 || !ok2 || now.Low <= then.Low {
			continue
		}
		saving = saving.add(now.sub(then))
		who := "workerPools." + g.Pool
		if g.Role == inventory.RoleController {
			who = "controlPlane"
		}
		where = append(where, fmt.Sprintf("%s %s → %s", who, typ, armType))
	}
	if len(where) == 0 {
		return Lever{}, false
	}
	return Lever{
		Name:     "Graviton (arm64)",
		Saving:   saving,
		Change:   strings.Join(where, "; "),
		Tradeoff: "workloads need arm64 (or multi-arch) images",
	}, true
}

// azLever: one AZ outside production (each AZ holds an NLB address and, with
// NAT gateways, a gateway and its address).
func (p *pricer) azLever() (Lever, bool) {
	azs, ok := inventory.Number(p.inv.Variables["az_count"])
	env := p.est.Environment
	if !ok || azs <= 1 || env == "prod" || env == "production" {
		return Lever{}, false
	}
	removed := azs - 1
	v := removed * p.hourly(p.prices.PublicIPv4Hourly) // the NLB's address per subnet
	if nats := len(p.inv.OfType("aws_nat_gateway")); nats > 1 {
		per := p.hourly(p.prices.NATGatewayHourly) + p.a.NATDataGB*p.prices.NATGatewayGB + p.hourly(p.prices.PublicIPv4Hourly)
		v += float64(min(nats-1, int(removed))) * per
	}
	return Lever{
		Name:     "one availability zone",
		Saving:   fixed(v),
		Change:   "network.azCount: 1",
		Tradeoff: "an AZ outage stops the whole cluster, and Spot pools draw from one AZ's capacity",
	}, true
}

// natLever: nodes in public subnets instead of NAT gateways; each node then
// needs a public address, which is subtracted.
func (p *pricer) natLever() (Lever, bool) {
	nats := p.inv.OfType("aws_nat_gateway")
	if len(nats) == 0 {
		return Lever{}, false
	}
	per := p.hourly(p.prices.NATGatewayHourly) + p.a.NATDataGB*p.prices.NATGatewayGB + p.hourly(p.prices.PublicIPv4Hourly)
	v := fixed(float64(len(nats)) * per)
	ip := p.hourly(p.prices.PublicIPv4Hourly)
	for _, g := range p.inv.Groups() {
		v = v.sub(Range{float64(g.Desired) * ip, float64(g.Max) * ip})
	}
	if v.Low <= 0 {
		return Lever{}, false
	}
	return Lever{
		Name:     "no NAT gateway",
		Saving:   v,
		Change:   "network.natGateway: false (nodes in public subnets, each with a public address; security groups still admit only the NLB and the admin CIDRs)",
		Tradeoff: "nodes are addressable from the internet, and their egress addresses change with the nodes",
	}, true
}
