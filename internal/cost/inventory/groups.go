package inventory

import (
	"sort"
	"strings"
)

// Role of an Auto Scaling Group in the cluster.
const (
	RoleController = "controller"
	RoleWorker     = "worker"
)

// Group is an Auto Scaling Group with what its launch template says about
// the instances it starts.
type Group struct {
	ASG            *Resource
	LaunchTemplate *Resource // nil when it could not be resolved
	Name           string    // ASG name; may be "" in a plan when computed
	Role           string    // RoleController or RoleWorker
	Pool           string    // worker pool name; "" for the controller
	// InstanceTypes: the launch template's type, or the overrides of a
	// mixed instances policy in priority order. Empty when unknown.
	InstanceTypes     []string
	Min, Desired, Max int
	// Root volume of each instance, from the launch template.
	VolumeGB         float64
	VolumeType       string
	VolumeIOPS       float64
	VolumeThroughput float64
	// PublicIP is true when the launch template asks for a public IPv4
	// address on each instance.
	PublicIP bool
	// OnDemandBase and OnDemandPercent split the group between on-demand
	// and Spot (the mixed instances policy's instances distribution); a
	// group without one is on-demand throughout (percent 100).
	OnDemandBase    int
	OnDemandPercent int
	// OnDemandStrategy is the on-demand allocation strategy of a mixed
	// instances policy: "prioritized" (the AWS default: the first listed
	// type that has capacity) or "lowest-price".
	OnDemandStrategy string
	// CPUCredits is the launch template's credit specification
	// ("standard" or "unlimited"); "" when it sets none, and burstable
	// types then launch in their family's default mode.
	CPUCredits string

	explicitIP bool // the launch template decides PublicIP itself
}

// Groups returns the cluster's Auto Scaling Groups: the controller first,
// then worker pools by name.
func (inv *Inventory) Groups() []Group {
	var groups []Group
	for _, asg := range inv.OfType("aws_autoscaling_group") {
		g := Group{ASG: asg, Name: asg.String("name")}
		g.Min = intOf(asg.Values["min_size"])
		g.Max = intOf(asg.Values["max_size"])
		if d, ok := Number(asg.Values["desired_capacity"]); ok {
			g.Desired = int(d)
		} else {
			g.Desired = g.Min
		}
		g.Role, g.Pool = inv.roleOf(asg)
		g.LaunchTemplate = inv.launchTemplateOf(asg)
		g.InstanceTypes = overrideTypes(asg)
		g.OnDemandBase, g.OnDemandPercent, g.OnDemandStrategy = distribution(asg)
		if lt := g.LaunchTemplate; lt != nil {
			if len(g.InstanceTypes) == 0 {
				if t := lt.String("instance_type"); t != "" {
					g.InstanceTypes = []string{t}
				}
			}
			g.readLaunchTemplate(lt)
		}
		if !g.explicitIP {
			g.PublicIP = inv.subnetsMapPublicIP(asg)
		}
		groups = append(groups, g)
	}
	sort.SliceStable(groups, func(i, j int) bool {
		if (groups[i].Role == RoleController) != (groups[j].Role == RoleController) {
			return groups[i].Role == RoleController
		}
		return groups[i].Pool < groups[j].Pool
	})
	return groups
}

func intOf(v any) int {
	n, _ := Number(v)
	return int(n)
}

// roleOf tells the controller ASG from worker pools: by the
// controller_asg_name output, a kforge.io/role tag, or the address.
func (inv *Inventory) roleOf(asg *Resource) (role, pool string) {
	tags := asgTags(asg)
	name := asg.String("name")
	if out, _ := inv.Outputs["controller_asg_name"].(string); out != "" && out == name {
		return RoleController, ""
	}
	if r := tags["kforge.io/role"]; r == RoleController || r == "control-plane" {
		return RoleController, ""
	}
	if out, ok := inv.Outputs["worker_asg_names"].(map[string]any); ok {
		for p, n := range out {
			if n == name && name != "" {
				return RoleWorker, p
			}
		}
	}
	addr := strings.ToLower(asg.Address)
	if strings.Contains(addr, "controller") || strings.Contains(addr, "control_plane") {
		return RoleController, ""
	}
	if p := tags["kforge.io/pool"]; p != "" {
		return RoleWorker, p
	}
	if s, ok := asg.Index.(string); ok {
		return RoleWorker, s
	}
	if key := lastModuleKey(asg.Module); key != "" {
		return RoleWorker, key
	}
	return RoleWorker, name
}

// lastModuleKey returns "x" for module.workers["x"].
func lastModuleKey(addr string) string {
	i := strings.LastIndex(addr, `["`)
	if i < 0 || !strings.HasSuffix(addr, `"]`) {
		return ""
	}
	return addr[i+2 : len(addr)-2]
}

// asgTags reads both the ASG's tag blocks and its tags map.
func asgTags(asg *Resource) map[string]string {
	tags := asg.Tags()
	for _, t := range Blocks(asg.Values["tag"]) {
		k, _ := t["key"].(string)
		v, _ := t["value"].(string)
		if k != "" {
			tags[k] = v
		}
	}
	return tags
}

// launchTemplateOf resolves the launch template an ASG uses.
func (inv *Inventory) launchTemplateOf(asg *Resource) *Resource {
	specs := []map[string]any{asg.Block("launch_template")}
	if mip := asg.Block("mixed_instances_policy"); mip != nil {
		if lt := FirstBlock(mip["launch_template"]); lt != nil {
			specs = append(specs, FirstBlock(lt["launch_template_specification"]))
		}
	}
	lts := inv.OfType("aws_launch_template")
	for _, spec := range specs {
		if spec == nil {
			continue
		}
		for _, key := range []string{"id", "launch_template_id", "name", "launch_template_name"} {
			want, _ := spec[key].(string)
			if want == "" {
				continue
			}
			attr := "id"
			if strings.Contains(key, "name") {
				attr = "name"
			}
			for _, lt := range lts {
				if lt.String(attr) == want {
					return lt
				}
			}
		}
	}
	if refs := inv.Referenced(asg, "aws_launch_template", "launch_template"); len(refs) == 1 {
		return refs[0]
	}
	if refs := inv.Referenced(asg, "aws_launch_template", "mixed_instances_policy"); len(refs) == 1 {
		return refs[0]
	}
	var same []*Resource
	for _, lt := range lts {
		if lt.Module == asg.Module && (asg.Index == nil || lt.IndexKey() == asg.IndexKey()) {
			same = append(same, lt)
		}
	}
	if len(same) == 1 {
		return same[0]
	}
	return nil
}

// distribution reads the on-demand base, the on-demand percentage above it
// and the on-demand allocation strategy; without a mixed instances policy
// everything is on-demand.
func distribution(asg *Resource) (base, percent int, strategy string) {
	strategy = "prioritized" // the AWS default
	mip := asg.Block("mixed_instances_policy")
	if mip == nil {
		return 0, 100, strategy
	}
	d := FirstBlock(mip["instances_distribution"])
	if d == nil {
		return 0, 100, strategy // the AWS defaults
	}
	base = intOf(d["on_demand_base_capacity"])
	percent = 100
	if p, ok := Number(d["on_demand_percentage_above_base_capacity"]); ok {
		percent = int(p)
	}
	if s, _ := d["on_demand_allocation_strategy"].(string); s != "" {
		strategy = s
	}
	return base, percent, strategy
}

// OnDemand and Spot split n instances the way EC2 Auto Scaling does: the
// base first, then the percentage above it rounded up to on-demand.
func (g Group) OnDemand(n int) int {
	if n <= g.OnDemandBase {
		return n
	}
	above := n - g.OnDemandBase
	return g.OnDemandBase + (above*g.OnDemandPercent+99)/100
}

// Spot is the number of Spot instances among n.
func (g Group) Spot(n int) int { return n - g.OnDemand(n) }

// overrideTypes lists the instance types of a mixed instances policy.
func overrideTypes(asg *Resource) []string {
	mip := asg.Block("mixed_instances_policy")
	if mip == nil {
		return nil
	}
	lt := FirstBlock(mip["launch_template"])
	if lt == nil {
		return nil
	}
	var types []string
	for _, o := range Blocks(lt["override"]) {
		if t, _ := o["instance_type"].(string); t != "" {
			types = append(types, t)
		}
	}
	return types
}

func (g *Group) readLaunchTemplate(lt *Resource) {
	for _, bdm := range Blocks(lt.Values["block_device_mappings"]) {
		ebs := FirstBlock(bdm["ebs"])
		if ebs == nil {
			continue
		}
		if size, ok := Number(ebs["volume_size"]); ok {
			g.VolumeGB = size
			g.VolumeType, _ = ebs["volume_type"].(string)
			if g.VolumeType == "" {
				g.VolumeType = "gp2" // the EC2 default when unset
			}
			g.VolumeIOPS, _ = Number(ebs["iops"])
			g.VolumeThroughput, _ = Number(ebs["throughput"])
			break
		}
	}
	if cs := FirstBlock(lt.Values["credit_specification"]); cs != nil {
		g.CPUCredits, _ = cs["cpu_credits"].(string)
	}
	for _, ni := range Blocks(lt.Values["network_interfaces"]) {
		switch v := ni["associate_public_ip_address"].(type) {
		case string: // the provider stores this one as a string
			if v != "" {
				g.explicitIP, g.PublicIP = true, v == "true"
			}
		case bool:
			g.explicitIP, g.PublicIP = true, v
		}
	}
}

// subnetsMapPublicIP tells whether instances launched into the ASG's
// subnets get a public IPv4 address. In a plan the subnet ids are not yet
// known; nodes are then public when the VPC has no NAT gateway and some
// subnet maps public addresses (kforge's public-subnet layout).
func (inv *Inventory) subnetsMapPublicIP(asg *Resource) bool {
	subnets := inv.OfType("aws_subnet")
	ids, _ := asg.Values["vpc_zone_identifier"].([]any)
	for _, id := range ids {
		s, _ := id.(string)
		for _, sn := range subnets {
			if s != "" && sn.String("id") == s {
				pub, _ := sn.Bool("map_public_ip_on_launch")
				return pub
			}
		}
	}
	if len(inv.OfType("aws_nat_gateway")) > 0 {
		return false
	}
	for _, sn := range subnets {
		if pub, _ := sn.Bool("map_public_ip_on_launch"); pub {
			return true
		}
	}
	return false
}
