package cluster

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"
	sqtypes "github.com/aws/aws-sdk-go-v2/service/servicequotas/types"

	"github.com/kforge/kforge/internal/config"
)

// What the account and region can run, checked by plan and up before
// anything is applied: the EC2 vCPU quotas, and which of the cluster's
// zones offer its instance types.

// EC2 counts the vCPUs of running instances per class of families against a
// regional quota, and a new account's may be as low as 5. An Auto Scaling
// group that would pass it fails its launch (VcpuLimitExceeded in the
// group's activities) while Cluster Autoscaler keeps asking and kubectl
// shows only pending pods, so up and plan compare the quota with what the
// cluster needs at its pools' max before anything is applied.
const (
	// QuotaStandardOnDemand is "Running On-Demand Standard (A, C, D, H, I,
	// M, R, T, Z) instances", in vCPUs.
	QuotaStandardOnDemand = "L-1216C47A"
	// QuotaStandardSpot is "All Standard (A, C, D, H, I, M, R, T, Z) Spot
	// Instance Requests", in vCPUs.
	QuotaStandardSpot = "L-34B43A08"
)

// VCPUNeed is what a cluster at its pools' max runs, in vCPUs, against the
// two standard-family quotas; Parts say where each figure comes from.
type VCPUNeed struct {
	OnDemand, Spot           int
	OnDemandParts, SpotParts []string
	// Unchecked are instance types of other quota classes (X, U, HPC),
	// which kforge does not compare.
	Unchecked []string
}

// clusterTypes are the instance types of the control plane and every
// pool, sorted, each once.
func clusterTypes(c *config.Cluster) []string {
	all := []string{c.ControlPlane.InstanceType}
	for _, p := range c.WorkerPools {
		all = append(all, p.InstanceTypes...)
	}
	slices.Sort(all)
	return slices.Compact(all)
}

// standardTypes are the cluster's instance types of the standard classes,
// sorted, each once: the types whose vCPUs the check reads.
func standardTypes(c *config.Cluster) []string {
	return slices.DeleteFunc(clusterTypes(c), func(t string) bool { return !standardFamily(t) })
}

// QuotaShortfall is a quota under the cluster's need.
type QuotaShortfall struct {
	Code, Name string
	Need       int
	Quota      int
	Parts      []string
}

// standardFamily reports whether EC2 counts the type against the standard
// classes' quotas (families starting with A, C, D, H, I, M, R, T or Z);
// X, U- and HPC types have quotas of their own, and accelerated and Mac
// types never pass validation.
func standardFamily(instanceType string) bool {
	if instanceType == "" || strings.HasPrefix(instanceType, "hpc") {
		return false
	}
	return strings.ContainsRune("acdhimrtz", rune(instanceType[0]))
}

// ClusterVCPUNeed adds up the control plane and every pool at its max, each
// pool at the vCPUs of its largest type (the Auto Scaling group may launch
// any of them). Of a spot pool, OnDemandBase instances count as on-demand.
// vcpus maps each instance type to its default vCPUs.
func ClusterVCPUNeed(c *config.Cluster, vcpus map[string]int) VCPUNeed {
	var n VCPUNeed
	unchecked := map[string]bool{}
	cp := c.ControlPlane.InstanceType
	if standardFamily(cp) {
		n.OnDemand += vcpus[cp]
		n.OnDemandParts = append(n.OnDemandParts, fmt.Sprintf("control plane %s: %d", cp, vcpus[cp]))
	} else {
		unchecked[cp] = true
	}
	for _, name := range slices.Sorted(maps.Keys(c.WorkerPools)) {
		p := c.WorkerPools[name]
		largest := 0
		for _, t := range p.InstanceTypes {
			if !standardFamily(t) {
				unchecked[t] = true
				continue
			}
			largest = max(largest, vcpus[t])
		}
		if largest == 0 || p.Max == 0 {
			continue
		}
		onDemand := p.Max
		if p.Capacity == config.CapacitySpot {
			onDemand = min(p.OnDemandBase, p.Max)
		}
		if onDemand > 0 {
			n.OnDemand += onDemand * largest
			n.OnDemandParts = append(n.OnDemandParts, fmt.Sprintf("pool %s: %d × %d", name, onDemand, largest))
		}
		if spot := p.Max - onDemand; spot > 0 {
			n.Spot += spot * largest
			n.SpotParts = append(n.SpotParts, fmt.Sprintf("pool %s: %d × %d", name, spot, largest))
		}
	}
	n.Unchecked = slices.Sorted(maps.Keys(unchecked))
	return n
}

// InstanceTypeLister is the EC2 call the quota check makes.
type InstanceTypeLister interface {
	DescribeInstanceTypes(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
}

// QuotaReader is the Service Quotas call the check makes.
type QuotaReader interface {
	GetServiceQuota(context.Context, *servicequotas.GetServiceQuotaInput, ...func(*servicequotas.Options)) (*servicequotas.GetServiceQuotaOutput, error)
}

// CheckVCPUQuotas returns the standard-family quotas under the cluster's
// need at its pools' max. A quota the region does not publish (Service
// Quotas answers NoSuchResource) is not compared.
func CheckVCPUQuotas(ctx context.Context, types InstanceTypeLister, quotas QuotaReader, c *config.Cluster) ([]QuotaShortfall, error) {
	vcpus, err := instanceVCPUs(ctx, types, c)
	if err != nil {
		return nil, err
	}
	need := ClusterVCPUNeed(c, vcpus)
	var short []QuotaShortfall
	for _, q := range []struct {
		code  string
		need  int
		parts []string
	}{{QuotaStandardOnDemand, need.OnDemand, need.OnDemandParts}, {QuotaStandardSpot, need.Spot, need.SpotParts}} {
		if q.need == 0 {
			continue
		}
		name, value, found, err := readQuota(ctx, quotas, q.code)
		if err != nil {
			return nil, err
		}
		if found && float64(q.need) > value {
			short = append(short, QuotaShortfall{Code: q.code, Name: name, Need: q.need, Quota: int(value), Parts: q.parts})
		}
	}
	return short, nil
}

// instanceVCPUs reads the default vCPUs of the cluster's standard-family
// types.
func instanceVCPUs(ctx context.Context, types InstanceTypeLister, c *config.Cluster) (map[string]int, error) {
	want := standardTypes(c)
	vcpus := map[string]int{}
	if len(want) == 0 {
		return vcpus, nil
	}
	in := &ec2.DescribeInstanceTypesInput{}
	for _, t := range want {
		in.InstanceTypes = append(in.InstanceTypes, ec2types.InstanceType(t))
	}
	p := ec2.NewDescribeInstanceTypesPaginator(types, in)
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading the vCPUs of %s: %w", strings.Join(want, ", "), err)
		}
		for _, it := range page.InstanceTypes {
			if it.VCpuInfo != nil {
				vcpus[string(it.InstanceType)] = int(aws.ToInt32(it.VCpuInfo.DefaultVCpus))
			}
		}
	}
	return vcpus, nil
}

// readQuota returns an EC2 quota's name and applied value; found is false
// when the region does not publish it (NoSuchResource). EC2's vCPU quotas
// always have an applied value where they exist, so the default is not
// read.
func readQuota(ctx context.Context, quotas QuotaReader, code string) (name string, value float64, found bool, err error) {
	out, err := quotas.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String("ec2"), QuotaCode: aws.String(code)})
	var missing *sqtypes.NoSuchResourceException
	switch {
	case errors.As(err, &missing):
		return "", 0, false, nil
	case err != nil:
		return "", 0, false, fmt.Errorf("reading EC2 quota %s: %w", code, err)
	case out.Quota == nil:
		return "", 0, false, nil
	}
	return aws.ToString(out.Quota.QuotaName), aws.ToFloat64(out.Quota.Value), true, nil
}

// Warning is the shortfall as one line for the operator, with the request
// that raises the quota.
func (s QuotaShortfall) Warning(env, region string) string {
	return fmt.Sprintf("%s needs up to %d vCPUs of %s at its pools' max (%s), over the account's quota of %d in %s (%s), which every other instance in the region shares: "+
		"launches past it fail with VcpuLimitExceeded and Cluster Autoscaler cannot scale out. Ask for more: aws service-quotas request-service-quota-increase --region %s --service-code ec2 --quota-code %s --desired-value %d",
		env, s.Need, s.Name, strings.Join(s.Parts, ", "), s.Quota, region, s.Code, region, s.Code, s.Need)
}

// warnVCPUQuotas prints a warning for each quota under the cluster's need;
// a failed read is a note, never a failure of the command.
func (e *Env) warnVCPUQuotas(ctx context.Context) {
	cfg, err := e.AWSConfig(ctx)
	if err == nil {
		var short []QuotaShortfall
		short, err = CheckVCPUQuotas(ctx, ec2.NewFromConfig(cfg), servicequotas.NewFromConfig(cfg), e.Config)
		for _, s := range short {
			e.opts.UI.Notef("warning: %s\n", s.Warning(e.Name, e.Config.Region))
		}
	}
	if err != nil {
		e.opts.UI.Notef("note: the account's EC2 vCPU quotas were not checked: %v\n", err)
	}
	if other := ClusterVCPUNeed(e.Config, nil).Unchecked; len(other) > 0 {
		e.opts.UI.Notef("note: %s count against the vCPU quotas of their own classes (X, U or HPC), which kforge does not compare\n", strings.Join(other, ", "))
	}
}

// Not every instance type is offered in every Availability Zone: in many
// accounts one of us-east-1's six zones (use1-az3) offers none of the
// current general-purpose families. Every node group spans all the
// cluster's zones, and an Auto Scaling group launching into a zone that
// offers none of its types fails there ("Your requested instance type is
// not supported in your requested Availability Zone") and tries the
// others; a group whose types no zone offers never launches at all. So up
// and plan compare the zones the network module will pick with what EC2
// offers in them before anything is applied.

// ZoneReader is the EC2 calls the offering check makes.
type ZoneReader interface {
	DescribeAvailabilityZones(context.Context, *ec2.DescribeAvailabilityZonesInput, ...func(*ec2.Options)) (*ec2.DescribeAvailabilityZonesOutput, error)
	DescribeInstanceTypeOfferings(context.Context, *ec2.DescribeInstanceTypeOfferingsInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypeOfferingsOutput, error)
}

// ZoneGap is a node group whose instance types are all missing from some
// of the cluster's zones.
type ZoneGap struct {
	// Field is the setting that chose the types: controlPlane.instanceType
	// or workerPools.<name>.instanceTypes.
	Field   string
	Types   []string
	Missing []string
	// MissingIDs are the zone IDs of Missing, in the same order: what
	// network.excludeZoneIDs takes.
	MissingIDs []string
	Zones      []string
}

// Total reports whether no zone of the cluster offers any of the group's
// types: the group can never launch an instance.
func (g ZoneGap) Total() bool { return len(g.Missing) == len(g.Zones) }

// offeredTypes maps each of zones to the instance types among types that
// EC2 offers there.
func offeredTypes(ctx context.Context, api ZoneReader, zones, types []string) (map[string]map[string]bool, error) {
	offered := map[string]map[string]bool{}
	p := ec2.NewDescribeInstanceTypeOfferingsPaginator(api, &ec2.DescribeInstanceTypeOfferingsInput{
		LocationType: ec2types.LocationTypeAvailabilityZone,
		Filters: []ec2types.Filter{
			{Name: aws.String("location"), Values: zones},
			{Name: aws.String("instance-type"), Values: types},
		},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading where %s are offered: %w", strings.Join(types, ", "), err)
		}
		for _, o := range page.InstanceTypeOfferings {
			zone := aws.ToString(o.Location)
			if offered[zone] == nil {
				offered[zone] = map[string]bool{}
			}
			offered[zone][string(o.InstanceType)] = true
		}
	}
	return offered, nil
}

// CheckZoneOfferings returns the control plane and the pools that have a
// zone of the cluster where none of their instance types is offered.
func CheckZoneOfferings(ctx context.Context, api ZoneReader, c *config.Cluster) ([]ZoneGap, error) {
	picked, err := clusterZones(ctx, api, c.Network)
	if err != nil || len(picked) == 0 {
		return nil, err // too few zones is the network module's error to give
	}
	zones := zoneNames(picked)
	groups := map[string][]string{"controlPlane.instanceType": {c.ControlPlane.InstanceType}}
	for name, p := range c.WorkerPools {
		groups["workerPools."+name+".instanceTypes"] = p.InstanceTypes
	}
	offered, err := offeredTypes(ctx, api, zones, clusterTypes(c))
	if err != nil {
		return nil, err
	}
	var gaps []ZoneGap
	for _, field := range slices.Sorted(maps.Keys(groups)) {
		types := groups[field]
		var missing, missingIDs []string
		for _, z := range picked {
			name := aws.ToString(z.ZoneName)
			if !slices.ContainsFunc(types, func(t string) bool { return offered[name][t] }) {
				missing = append(missing, name)
				missingIDs = append(missingIDs, aws.ToString(z.ZoneId))
			}
		}
		if len(missing) > 0 {
			gaps = append(gaps, ZoneGap{Field: field, Types: types, Missing: missing, MissingIDs: missingIDs, Zones: zones})
		}
	}
	return gaps, nil
}

// Message is the gap as one line for the operator, with what to do.
func (g ZoneGap) Message(region string) string {
	types := strings.Join(g.Types, ", ")
	see := fmt.Sprintf("aws ec2 describe-instance-type-offerings --region %s --location-type availability-zone --filters Name=instance-type,Values=%s", region, strings.Join(g.Types, ","))
	if g.Total() {
		return fmt.Sprintf("%s: none of %s is offered in the cluster's zones (%s), so its Auto Scaling group could never launch an instance; choose types offered there (%s)",
			g.Field, types, strings.Join(g.Zones, ", "), see)
	}
	return fmt.Sprintf("%s: none of %s is offered in %s (%s), of the cluster's zones %s: its Auto Scaling group launches in the other %d only, and each attempt there fails (\"not supported in your requested Availability Zone\"). Add a type offered there, or leave the zone out with network.excludeZoneIDs: [%s] before the first up (%s)",
		g.Field, types, strings.Join(g.Missing, ", "), strings.Join(g.MissingIDs, ", "), strings.Join(g.Zones, ", "), len(g.Zones)-len(g.Missing), strings.Join(g.MissingIDs, ", "), see)
}

// checkZoneOfferings warns of each zone gap and refuses a group no zone can
// serve, before anything is applied; a failed read is a note, never a
// failure of the command.
func (e *Env) checkZoneOfferings(ctx context.Context) error {
	cfg, err := e.AWSConfig(ctx)
	var gaps []ZoneGap
	if err == nil {
		gaps, err = CheckZoneOfferings(ctx, ec2.NewFromConfig(cfg), e.Config)
	}
	if err != nil {
		if ExitCode(err) == ExitUsage {
			return err // an excluded zone ID the region does not have
		}
		e.opts.UI.Notef("note: the instance types' Availability Zones were not checked: %v\n", err)
		return nil
	}
	var total []string
	for _, g := range gaps {
		if g.Total() {
			total = append(total, g.Message(e.Config.Region))
			continue
		}
		e.opts.UI.Notef("warning: %s\n", g.Message(e.Config.Region))
	}
	if len(total) > 0 {
		return UsageError("%s", strings.Join(total, "\n"))
	}
	return nil
}

// checkCapacity compares the cluster with what the account and region can
// run, before anything is applied: the vCPU quotas (warnings) and the
// zones' instance type offerings (warnings, or an error for a group no
// zone can serve).
func (e *Env) checkCapacity(ctx context.Context) error {
	e.warnVCPUQuotas(ctx)
	return e.checkZoneOfferings(ctx)
}
