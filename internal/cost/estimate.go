// Package cost estimates the monthly on-demand AWS cost of a kforge cluster
// from its Terraform plan or state, with an embedded, dated price table per
// region, and compares it with running the same workers on EKS.
//
// Everything here is a pure function over hashicorp/terraform-json types:
// no cloud call, no Terraform run.
package cost

import (
	"cmp"
	"fmt"
	"sort"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/cost/inventory"
)

// Assumptions are the usage figures a plan cannot tell; every estimate
// prints them next to the total.
type Assumptions struct {
	HoursPerMonth float64 `json:"hours_per_month"`
	// NLBDataGB is the data the NLB processes per month. It sets the NLB
	// capacity units: for TCP an NLCU is the largest of 800 new connections
	// a second, 100,000 active connections and 1 GB processed an hour, and
	// for a lightly used cluster (a handful of connections) the bytes
	// dominate, so the NLB uses NLBDataGB / HoursPerMonth NLCU on average.
	NLBDataGB float64 `json:"nlb_data_gb"`
	// NATDataGB is the data each NAT gateway processes per month.
	NATDataGB float64 `json:"nat_data_gb_per_gateway"`
	// EFSStorageGB is the data stored on each EFS file system (Standard).
	EFSStorageGB float64 `json:"efs_storage_gb"`
	// S3StorageGB is the data stored in each bucket (Standard); kforge's
	// buckets hold state, the agent binary, PKI backups and etcd snapshots.
	S3StorageGB float64 `json:"s3_storage_gb_per_bucket"`
	// FlowLogsGB is the VPC flow log data delivered per month.
	FlowLogsGB float64 `json:"flow_logs_gb"`
}

// DefaultAssumptions are those of a small, lightly used cluster: the same
// 10 GB a month through the NLB as through each NAT gateway.
func DefaultAssumptions() Assumptions {
	return Assumptions{HoursPerMonth: 730, NLBDataGB: 10, NATDataGB: 10, EFSStorageGB: 10, S3StorageGB: 1, FlowLogsGB: 10}
}

// NLBCapacityUnits is the average number of NLB capacity units the
// assumptions make: NLBDataGB spread over the month at 1 GB an hour per
// NLCU.
func (a Assumptions) NLBCapacityUnits() float64 { return a.NLBDataGB / a.HoursPerMonth }

// Range is a monthly amount from the desired size to the maximum size of
// the Auto Scaling Groups; Low == High for fixed resources.
type Range struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

func (r Range) add(o Range) Range { return Range{r.Low + o.Low, r.High + o.High} }
func (r Range) sub(o Range) Range { return Range{r.Low - o.Low, r.High - o.High} }
func fixed(v float64) Range       { return Range{v, v} }

// Line is one priced (or explicitly unpriced) item.
type Line struct {
	Address string `json:"address"`
	Service string `json:"service"`
	Item    string `json:"item"`
	Monthly Range  `json:"monthly"`
	// Priced is false when there is no price for the item; it is then left
	// out of the total and NoPrice says why.
	Priced  bool   `json:"priced"`
	NoPrice string `json:"no_price,omitempty"`
	// Controller marks the control-plane node's lines, which an EKS
	// cluster does not have.
	Controller bool `json:"controller,omitempty"`
	// Spot lines are priced (partly) at typical Spot prices; OnDemand is
	// what the same instances cost on-demand.
	Spot     bool   `json:"spot,omitempty"`
	OnDemand *Range `json:"on_demand_monthly,omitempty"`
}

// EKSComparison prices the same cluster with the EKS control plane instead
// of a self-managed control-plane node.
type EKSComparison struct {
	ControlPlaneFee  float64 `json:"control_plane_fee"`
	ControllerRemove Range   `json:"controller_removed"`
	Total            Range   `json:"total"`
	Difference       Range   `json:"difference"`
}

// Estimate is the monthly cost of one plan or state.
type Estimate struct {
	Environment  string `json:"environment,omitempty"`
	Region       string `json:"region"`
	Currency     string `json:"currency"`
	PricesAsOf   string `json:"prices_as_of"`
	PricesSource string `json:"prices_source"`
	// SpotPricesAsOf and SpotPricesSource are set when a line uses the
	// typical Spot prices.
	SpotPricesAsOf   string      `json:"spot_prices_as_of,omitempty"`
	SpotPricesSource string      `json:"spot_prices_source,omitempty"`
	Assumptions      Assumptions `json:"assumptions"`
	Lines            []Line      `json:"lines"`
	// NotIncluded names the charges the estimate leaves out: data
	// transfer out, and between zones when the cluster spans several.
	NotIncluded []string      `json:"not_included"`
	Total       Range         `json:"total"`
	Unpriced    int           `json:"unpriced"`
	EKS         EKSComparison `json:"eks"`
	// Levers are the (at most three) biggest savings left, biggest first.
	Levers []Lever  `json:"levers"`
	Notes  []string `json:"notes,omitempty"`
}

// Options tune an estimate. The zero value uses the plan's region and the
// default assumptions.
type Options struct {
	Region      string       // overrides the plan's region
	Assumptions *Assumptions // nil: DefaultAssumptions
}

// FromPlan estimates the cost of what a plan would create.
func FromPlan(plan *tfjson.Plan, opts Options) (*Estimate, error) {
	inv, err := inventory.FromPlan(plan)
	if err != nil {
		return nil, fmt.Errorf("reading plan: %w", err)
	}
	return FromInventory(inv, opts)
}

// FromState estimates the cost of what a state holds.
func FromState(state *tfjson.State, opts Options) (*Estimate, error) {
	inv, err := inventory.FromState(state)
	if err != nil {
		return nil, fmt.Errorf("reading state: %w", err)
	}
	return FromInventory(inv, opts)
}

// FromInventory estimates the cost of an inventory.
func FromInventory(inv *inventory.Inventory, opts Options) (*Estimate, error) {
	region := opts.Region
	if region == "" {
		region = inv.Region()
	}
	prices, err := Prices(region)
	if err != nil {
		return nil, err
	}
	a := DefaultAssumptions()
	if opts.Assumptions != nil {
		a = *opts.Assumptions
	}
	if a.HoursPerMonth <= 0 {
		return nil, fmt.Errorf("assumptions: hours_per_month must be positive, got %v", a.HoursPerMonth)
	}
	e := &Estimate{
		Region:       region,
		Currency:     prices.Currency,
		PricesAsOf:   prices.AsOf,
		PricesSource: prices.Source,
		Assumptions:  a,
	}
	if env, ok := inv.Variables["environment"].(string); ok {
		e.Environment = env
	} else if env, ok := inv.Outputs["environment"].(string); ok {
		e.Environment = env
	}
	p := pricer{prices: prices, a: a, inv: inv, est: e}
	p.groups()
	p.resources()
	p.finish()
	e.Levers = p.levers()
	if e.Levers == nil {
		e.Levers = []Lever{}
	}
	return e, nil
}

type pricer struct {
	prices *PriceTable
	a      Assumptions
	inv    *inventory.Inventory
	est    *Estimate
}

func (p *pricer) add(l Line) {
	l.Priced = l.NoPrice == ""
	p.est.Lines = append(p.est.Lines, l)
}

func (p *pricer) hourly(rate float64) float64 { return rate * p.a.HoursPerMonth }

// groups prices the instances, root volumes and public addresses of every
// Auto Scaling Group from its desired to its maximum size.
func (p *pricer) groups() {
	for _, g := range p.inv.Groups() {
		who := "pool " + g.Pool
		if g.Role == inventory.RoleController {
			who = "controller"
		}
		counts := fmt.Sprintf("%d", g.Desired)
		if g.Max != g.Desired {
			counts = fmt.Sprintf("%d..%d", g.Desired, g.Max)
		}
		n := Range{float64(g.Desired), float64(g.Max)}
		ctl := g.Role == inventory.RoleController

		line := Line{Address: g.ASG.Address, Service: "EC2", Controller: ctl}
		switch {
		case len(g.InstanceTypes) == 0:
			line.Item = fmt.Sprintf("%s: %s instances of unknown type", who, counts)
			line.NoPrice = "instance type not known from the plan (launch template not resolved)"
		default:
			line.Item = fmt.Sprintf("%s: %s × %s", who, counts, strings.Join(g.InstanceTypes, "/"))
			p.price(&line, g)
		}
		p.add(line)
		p.cpuCredits(g.ASG.Address, who+": ", g.InstanceTypes, g.CPUCredits, ctl)

		if g.VolumeGB > 0 {
			perVolume, noPrice := p.volume(g.VolumeType, g.VolumeGB, g.VolumeIOPS, g.VolumeThroughput)
			p.add(Line{
				Address:    g.LaunchTemplate.Address,
				Service:    "EBS",
				Item:       fmt.Sprintf("%s: %s × %g GB %s root volume", who, counts, g.VolumeGB, g.VolumeType),
				Monthly:    Range{n.Low * perVolume, n.High * perVolume},
				NoPrice:    noPrice,
				Controller: ctl,
			})
		}
		if g.PublicIP {
			each := p.hourly(p.prices.PublicIPv4Hourly)
			p.add(Line{
				Address:    g.ASG.Address,
				Service:    "VPC",
				Item:       fmt.Sprintf("%s: %s × public IPv4 address", who, counts),
				Monthly:    Range{n.Low * each, n.High * each},
				Controller: ctl,
			})
		}
	}
}

// groupPrice is what a group's instances cost per month.
type groupPrice struct {
	Monthly Range
	// OnDemand is the all-on-demand figure, set when some instances are
	// Spot.
	OnDemand *Range
	// Low and High are the types pricing the two ends (the Spot types when
	// some instances are Spot).
	Low, High string
	NoPrice   string
}

// rated is an instance type with its hourly rate.
type rated struct {
	typ  string
	rate float64
}

// ends picks the types pricing the low and the high end of a group listing
// several: the high end is the dearest listed type, since EC2 Auto Scaling
// may launch any of them (for Spot, price-capacity-optimized picks the
// pools with the most capacity and then the cheapest of those; for
// on-demand, a type without capacity passes to the next). The low end is
// the cheapest type, or the first listed when first is set (the
// prioritized on-demand strategy). Ties go to the type listed first.
func ends(types []string, rates map[string]float64, first bool) (low, high rated, missing string) {
	for i, typ := range types {
		r, ok := rates[typ]
		if !ok {
			return rated{}, rated{}, typ
		}
		if i == 0 || r < low.rate && !first {
			low = rated{typ, r}
		}
		if i == 0 || r > high.rate {
			high = rated{typ, r}
		}
	}
	return low, high, ""
}

// groupPrice prices a group's instances from its desired size at the low
// end's rates to its maximum size at the high end's: on-demand instances at
// the on-demand price, Spot instances at the typical Spot price, with the
// all-on-demand figure when any instance is Spot.
func (p *pricer) groupPrice(g inventory.Group) groupPrice {
	odLow, odHigh, missing := ends(g.InstanceTypes, p.prices.EC2Hourly, g.OnDemandStrategy != "lowest-price")
	if missing != "" {
		return groupPrice{NoPrice: fmt.Sprintf("no price for instance type %s in %s", missing, p.prices.Region)}
	}
	h := p.hourly
	if g.Spot(g.Desired) == 0 && g.Spot(g.Max) == 0 {
		return groupPrice{
			Monthly: Range{float64(g.Desired) * h(odLow.rate), float64(g.Max) * h(odHigh.rate)},
			Low:     odLow.typ, High: odHigh.typ,
		}
	}
	spotLow, spotHigh, missing := ends(g.InstanceTypes, p.prices.SpotHourlyTypical, false)
	if missing != "" {
		return groupPrice{NoPrice: fmt.Sprintf("no typical Spot price for instance type %s in %s", missing, p.prices.Region)}
	}
	at := func(n int, od, spot rated) float64 {
		return float64(g.OnDemand(n))*h(od.rate) + float64(g.Spot(n))*h(spot.rate)
	}
	return groupPrice{
		Monthly:  Range{at(g.Desired, odLow, spotLow), at(g.Max, odHigh, spotHigh)},
		OnDemand: &Range{float64(g.Desired) * h(odLow.rate), float64(g.Max) * h(odHigh.rate)},
		Low:      spotLow.typ, High: spotHigh.typ,
	}
}

// price fills a group's instance line from groupPrice and says which types
// price its ends when it lists several.
func (p *pricer) price(line *Line, g inventory.Group) {
	gp := p.groupPrice(g)
	if gp.NoPrice != "" {
		line.NoPrice = gp.NoPrice
		return
	}
	line.Monthly = gp.Monthly
	line.OnDemand = gp.OnDemand
	line.Spot = gp.OnDemand != nil
	if line.Spot {
		line.Item += " Spot"
	}
	if len(g.InstanceTypes) > 1 {
		if gp.Low == gp.High {
			line.Item += fmt.Sprintf(" (priced as %s)", gp.Low)
		} else {
			line.Item += fmt.Sprintf(" (low %s, high %s)", gp.Low, gp.High)
		}
	}
	if !line.Spot {
		return
	}
	if g.OnDemandBase > 0 || g.OnDemandPercent > 0 {
		line.Item += fmt.Sprintf(" (on-demand base %d, %d%% above)", g.OnDemandBase, g.OnDemandPercent)
	}
	line.Item += fmt.Sprintf(", typical; all on-demand %s", line.OnDemand.Money())
	p.est.SpotPricesAsOf = p.prices.SpotAsOf
	p.est.SpotPricesSource = p.prices.SpotSource
}

// volume prices one EBS volume per month.
func (p *pricer) volume(typ string, gb, iops, throughput float64) (float64, string) {
	rate, ok := p.prices.EBSGBMonth[typ]
	if !ok {
		return 0, fmt.Sprintf("no price for EBS volume type %q in %s", typ, p.prices.Region)
	}
	v := gb * rate
	if typ == "gp3" {
		if iops > 3000 {
			v += (iops - 3000) * p.prices.EBSGP3IOPSMonth
		}
		if throughput > 125 {
			v += (throughput - 125) * p.prices.EBSGP3ThroughputMonth
		}
	}
	return v, ""
}

// free lists resource types that AWS does not charge for by themselves
// (their cost, if any, shows up in a priced resource).
var free = map[string]bool{
	"aws_autoscaling_group": true, // priced per group above
	"aws_launch_template":   true, // priced with its group
	"aws_vpc":               true, "aws_subnet": true, "aws_internet_gateway": true,
	"aws_route_table": true, "aws_route": true, "aws_route_table_association": true,
	"aws_main_route_table_association": true, "aws_default_route_table": true,
	"aws_default_security_group": true, "aws_default_network_acl": true, "aws_network_acl": true,
	"aws_security_group": true, "aws_security_group_rule": true,
	"aws_vpc_security_group_ingress_rule": true, "aws_vpc_security_group_egress_rule": true,
	"aws_lb_target_group": true, "aws_lb_listener": true, "aws_lb_target_group_attachment": true,
	"aws_autoscaling_attachment": true, "aws_autoscaling_group_tag": true, "aws_autoscaling_lifecycle_hook": true,
	"aws_efs_mount_target": true, "aws_efs_access_point": true, "aws_efs_file_system_policy": true,
	"aws_kms_alias": true, "aws_route53_record": true,
	"aws_iam_role": true, "aws_iam_policy": true, "aws_iam_role_policy": true,
	"aws_iam_role_policy_attachment": true, "aws_iam_instance_profile": true,
	"aws_iam_openid_connect_provider": true, "aws_iam_service_linked_role": true, "aws_eip_association": true, "aws_key_pair": true,
	"aws_placement_group": true, "aws_ec2_tag": true, "aws_ssm_parameter": true,
	"aws_s3_bucket_versioning": true, "aws_s3_bucket_public_access_block": true,
	"aws_s3_bucket_server_side_encryption_configuration": true, "aws_s3_bucket_policy": true,
	"aws_s3_bucket_lifecycle_configuration": true, "aws_s3_bucket_ownership_controls": true, "aws_s3_bucket_logging": true,
	"aws_s3_object": true, // counted in the per-bucket storage assumption
	// EventBridge does not charge for AWS service events delivered to rules.
	"aws_cloudwatch_event_rule": true, "aws_cloudwatch_event_target": true, "aws_sqs_queue_policy": true,
	"terraform_data": true, "null_resource": true, "random_id": true, "random_string": true,
	"random_password": true, "random_pet": true, "time_sleep": true, "local_file": true,
}

// resources prices everything that is not an Auto Scaling Group.
func (p *pricer) resources() {
	a, pr := p.a, p.prices
	for _, r := range p.inv.Resources {
		switch r.Type {
		case "aws_instance":
			p.instance(r)
		case "aws_ebs_volume":
			size, _ := r.Number("size")
			typ := r.String("type")
			if typ == "" {
				typ = "gp3"
			}
			iops, _ := r.Number("iops")
			tp, _ := r.Number("throughput")
			v, noPrice := p.volume(typ, size, iops, tp)
			p.add(Line{Address: r.Address, Service: "EBS", Item: fmt.Sprintf("%g GB %s volume", size, typ), Monthly: fixed(v), NoPrice: noPrice})
		case "aws_lb":
			p.loadBalancer(r)
		case "aws_nat_gateway":
			v := p.hourly(pr.NATGatewayHourly) + a.NATDataGB*pr.NATGatewayGB
			p.add(Line{Address: r.Address, Service: "VPC", Item: fmt.Sprintf("NAT gateway (hours + %g GB processed)", a.NATDataGB), Monthly: fixed(v)})
		case "aws_eip":
			p.add(Line{Address: r.Address, Service: "VPC", Item: "Elastic IP (public IPv4)", Monthly: fixed(p.hourly(pr.PublicIPv4Hourly))})
		case "aws_efs_file_system":
			p.add(Line{Address: r.Address, Service: "EFS", Item: fmt.Sprintf("EFS Standard, %g GB stored (assumed)", a.EFSStorageGB), Monthly: fixed(a.EFSStorageGB * pr.EFSStandardGBMonth)})
		case "aws_efs_backup_policy":
			p.efsBackups(r.Address, "")
		case "aws_kms_key":
			p.kmsKey(r)
		case "aws_route53_zone":
			p.add(Line{Address: r.Address, Service: "Route 53", Item: "hosted zone " + r.String("name"), Monthly: fixed(pr.Route53ZoneMonth)})
		case "aws_s3_bucket":
			p.add(Line{Address: r.Address, Service: "S3", Item: fmt.Sprintf("bucket, %g GB Standard (assumed)", a.S3StorageGB), Monthly: fixed(a.S3StorageGB * pr.S3StandardGBMonth)})
		case "aws_vpc_endpoint":
			if t := r.String("vpc_endpoint_type"); t != "" && t != "Gateway" {
				p.add(Line{Address: r.Address, Service: "VPC", Item: t + " endpoint", NoPrice: "interface endpoints are not in the price table"})
			}
		case "aws_sqs_queue":
			// Node events are a few thousand messages a month; SQS charges
			// nothing for the first million requests.
			p.add(Line{Address: r.Address, Service: "SQS", Item: "queue " + r.String("name") + " (node events, within the free million requests)", Monthly: fixed(0)})
		case "aws_flow_log":
			p.flowLog(r.Address, r.String("log_destination_type"), "")
		case "aws_cloudwatch_log_group":
			p.add(Line{Address: r.Address, Service: "CloudWatch", Item: r.Type, NoPrice: "priced by data ingested and stored; not estimated"})
		default:
			if !free[r.Type] {
				p.add(Line{Address: r.Address, Service: "?", Item: r.Type, NoPrice: "resource type not in the price table"})
			}
		}
	}
	// The emulator plans leave the flow log out (terraform/cluster/main.tf);
	// the variable still says the cluster on AWS has one.
	if on, _ := p.inv.Variables["vpc_flow_logs"].(bool); on && len(p.inv.OfType("aws_flow_log")) == 0 {
		p.flowLog("var.vpc_flow_logs", "s3", "; vpc_flow_logs is on, not in this plan")
	}
	if on, _ := p.inv.Variables["efs_backups"].(bool); on && len(p.inv.OfType("aws_efs_backup_policy")) == 0 {
		p.efsBackups("var.efs_backups", "; efs_backups is on, not in this plan")
	}
}

// efsBackups lists the file system's automatic backups without a price:
// AWS Backup bills the recovery points' storage, which grows with the data
// changed each day, and the price tables hold no rate for it.
func (p *pricer) efsBackups(address, why string) {
	p.add(Line{Address: address, Service: "EFS", Item: "EFS automatic backups (AWS Backup, daily, kept 35 days)",
		NoPrice: "AWS Backup charges per GB-month of the recovery points, which grow with the data changed each day" + why})
}

// kmsKey prices a customer managed key. With automatic rotation each new
// backing key costs another key-month, for the first two rotations only
// (KMS pricing); the line keeps the first period's price, the figure the
// key has when the cluster starts, and says what rotation adds.
func (p *pricer) kmsKey(r *inventory.Resource) {
	month := p.prices.KMSKeyMonth
	l := Line{Address: r.Address, Service: "KMS", Item: "customer managed key", Monthly: fixed(month)}
	if on, _ := r.Bool("enable_key_rotation"); on {
		days := 365.0 // the KMS default
		if d, ok := r.Number("rotation_period_in_days"); ok && d > 0 {
			days = d
		}
		l.Item += fmt.Sprintf("; rotation every %g days: %.2f after the 1st, %.2f from the 2nd", days, 2*month, 3*month)
	}
	p.add(l)
}

// flowLog prices VPC flow logs: delivered to S3 they are CloudWatch vended
// logs, charged per GB delivered; other destinations add ingestion and
// storage that are not estimated.
func (p *pricer) flowLog(address, destination, note string) {
	if destination != "s3" {
		p.add(Line{Address: address, Service: "CloudWatch", Item: "VPC flow logs to " + cmp.Or(destination, "cloud-watch-logs"),
			NoPrice: "priced by data ingested and stored; not estimated"})
		return
	}
	gb := p.a.FlowLogsGB
	l := Line{Address: address, Service: "CloudWatch", Item: fmt.Sprintf("VPC flow logs to S3, %g GB delivered (assumed%s)", gb, note)}
	if rate := p.prices.VendedLogsS3GB; rate > 0 {
		l.Monthly = fixed(gb * rate)
	} else {
		l.NoPrice = fmt.Sprintf("vended logs delivered to S3 are charged per GB (CloudWatch pricing, Vended Logs); no rate for %s in the price table", p.prices.Region)
	}
	p.add(l)
}

func (p *pricer) instance(r *inventory.Resource) {
	typ := r.String("instance_type")
	l := Line{Address: r.Address, Service: "EC2", Item: "instance " + typ}
	if rate, ok := p.prices.EC2Hourly[typ]; ok {
		l.Monthly = fixed(p.hourly(rate))
	} else {
		l.NoPrice = fmt.Sprintf("no price for instance type %q in %s", typ, p.prices.Region)
	}
	p.add(l)
	var credits string
	if cs := r.Block("credit_specification"); cs != nil {
		credits, _ = cs["cpu_credits"].(string)
	}
	p.cpuCredits(r.Address, "instance: ", []string{typ}, credits, false)
	if root := r.Block("root_block_device"); root != nil {
		size, _ := inventory.Number(root["volume_size"])
		vt, _ := root["volume_type"].(string)
		if vt == "" {
			vt = "gp2"
		}
		if size > 0 {
			iops, _ := inventory.Number(root["iops"])
			tp, _ := inventory.Number(root["throughput"])
			v, noPrice := p.volume(vt, size, iops, tp)
			p.add(Line{Address: r.Address, Service: "EBS", Item: fmt.Sprintf("%g GB %s root volume", size, vt), Monthly: fixed(v), NoPrice: noPrice})
		}
	}
	if pub, _ := r.Bool("associate_public_ip_address"); pub {
		p.add(Line{Address: r.Address, Service: "VPC", Item: "public IPv4 address", Monthly: fixed(p.hourly(p.prices.PublicIPv4Hourly))})
	}
}

func (p *pricer) loadBalancer(r *inventory.Resource) {
	typ := r.String("load_balancer_type")
	if typ == "" {
		typ = "application"
	}
	if typ != "network" {
		p.add(Line{Address: r.Address, Service: "ELB", Item: typ + " load balancer", NoPrice: "only network load balancers are in the price table"})
		return
	}
	v := p.hourly(p.prices.NLBHourly + p.a.NLBCapacityUnits()*p.prices.NLBLCUHourly)
	p.add(Line{Address: r.Address, Service: "ELB", Monthly: fixed(v),
		Item: fmt.Sprintf("network load balancer (hours + %g GB processed = %.3f NLCU)", p.a.NLBDataGB, p.a.NLBCapacityUnits())})
	if internal, _ := r.Bool("internal"); internal {
		return
	}
	// An internet-facing NLB holds one public IPv4 address per subnet.
	azs := len(inventory.Blocks(r.Values["subnet_mapping"]))
	if list, ok := r.Values["subnets"].([]any); ok && len(list) > azs {
		azs = len(list)
	}
	if azs == 0 {
		if n, ok := inventory.Number(p.inv.Variables["az_count"]); ok {
			azs = int(n)
		}
	}
	if azs == 0 {
		p.add(Line{Address: r.Address, Service: "VPC", Item: "NLB public IPv4 addresses", NoPrice: "number of subnets not known from the plan"})
		return
	}
	p.add(Line{Address: r.Address, Service: "VPC", Item: fmt.Sprintf("NLB: %d × public IPv4 address", azs), Monthly: fixed(float64(azs) * p.hourly(p.prices.PublicIPv4Hourly))})
}

// finish sorts the lines, adds the total and the EKS comparison.
func (p *pricer) finish() {
	e := p.est
	sort.SliceStable(e.Lines, func(i, j int) bool {
		if e.Lines[i].Priced != e.Lines[j].Priced {
			return e.Lines[i].Priced
		}
		return serviceOrder(e.Lines[i].Service) < serviceOrder(e.Lines[j].Service)
	})
	var ctl Range
	haveController := false
	for _, l := range e.Lines {
		if !l.Priced {
			e.Unpriced++
			continue
		}
		e.Total = e.Total.add(l.Monthly)
		if l.Controller {
			ctl = ctl.add(l.Monthly)
			haveController = true
		}
	}
	e.NotIncluded = []string{"data transfer out"}
	if z := p.zones(); z > 1 {
		e.NotIncluded = append(e.NotIncluded, fmt.Sprintf("inter-AZ data transfer across the %d AZs (%.2f %s/GB each way)", z, p.prices.InterAZGB, e.Currency))
	}
	fee := p.hourly(p.prices.EKSControlPlaneHourly)
	e.EKS = EKSComparison{ControlPlaneFee: fee, ControllerRemove: ctl}
	e.EKS.Total = e.Total.sub(ctl).add(fixed(fee))
	e.EKS.Difference = e.EKS.Total.sub(e.Total)
	if url, _ := p.inv.Variables["aws_endpoint_url"].(string); url != "" || p.inv.Outputs["emulated"] == true {
		e.Notes = append(e.Notes, "this plan targets an AWS emulator, which costs nothing: the figures are what the same resources would cost on AWS in "+e.Region)
	}
	if !haveController {
		e.Notes = append(e.Notes, "no control-plane node found in the plan: the EKS comparison removes nothing")
	}
	if e.Unpriced > 0 {
		e.Notes = append(e.Notes, fmt.Sprintf("%d item(s) have no price and are not in the total", e.Unpriced))
	}
}

// zones is the number of Availability Zones the cluster spans: the az_count
// variable of a plan, or the zones of its subnets; 0 when not known.
func (p *pricer) zones() int {
	if n, ok := inventory.Number(p.inv.Variables["az_count"]); ok {
		return int(n)
	}
	seen := map[string]bool{}
	for _, s := range p.inv.OfType("aws_subnet") {
		if az := s.String("availability_zone"); az != "" {
			seen[az] = true
		}
	}
	return len(seen)
}

func serviceOrder(s string) int {
	for i, name := range []string{"EC2", "EBS", "ELB", "VPC", "EFS", "S3", "SQS", "KMS", "Route 53", "CloudWatch"} {
		if s == name {
			return i
		}
	}
	return 99
}
