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
	"github.com/kforge/kforge/internal/sweep"
)

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

// standardTypes are the cluster's instance types of the standard classes,
// sorted, each once: the types whose vCPUs the check reads.
func standardTypes(c *config.Cluster) []string {
	return slices.DeleteFunc(clusterTypes(c), func(t string) bool { return !standardFamily(t) })
}

// QuotaShortfall is a quota under the cluster's need and what the rest of
// the region already runs against it.
type QuotaShortfall struct {
	Code, Name string
	Need       int
	// Others is what the region's instances outside this cluster run
	// against the quota now, in vCPUs.
	Others int
	Quota  int
	Parts  []string
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

// InstanceTypeLister is the EC2 call that reads instance types' vCPUs.
type InstanceTypeLister interface {
	DescribeInstanceTypes(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)
}

// VCPUReader is the EC2 calls the quota check makes: the vCPUs of instance
// types, and the instances the region runs.
type VCPUReader interface {
	InstanceTypeLister
	DescribeInstances(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// QuotaReader is the Service Quotas call the check makes.
type QuotaReader interface {
	GetServiceQuota(context.Context, *servicequotas.GetServiceQuotaInput, ...func(*servicequotas.Options)) (*servicequotas.GetServiceQuotaOutput, error)
}

// CheckVCPUQuotas returns the standard-family quotas under the cluster's
// need at its pools' max plus what the region's other instances run now.
// A quota the region does not publish (Service Quotas answers
// NoSuchResource) is not compared.
func CheckVCPUQuotas(ctx context.Context, api VCPUReader, quotas QuotaReader, c *config.Cluster) ([]QuotaShortfall, error) {
	vcpus, err := instanceVCPUs(ctx, api, standardTypes(c))
	if err != nil {
		return nil, err
	}
	need := ClusterVCPUNeed(c, vcpus)
	type quota struct {
		code, name string
		value      float64
		need       int
		parts      []string
		spot       bool
	}
	var published []quota
	for _, q := range []quota{
		{code: QuotaStandardOnDemand, need: need.OnDemand, parts: need.OnDemandParts},
		{code: QuotaStandardSpot, need: need.Spot, parts: need.SpotParts, spot: true},
	} {
		if q.need == 0 {
			continue
		}
		var found bool
		if q.name, q.value, found, err = readQuota(ctx, quotas, "ec2", q.code); err != nil {
			return nil, err
		}
		if found {
			published = append(published, q)
		}
	}
	// The region's instances are read only when there is a quota to
	// compare them with.
	if len(published) == 0 {
		return nil, nil
	}
	use, err := RegionVCPUsOutside(ctx, api, c.Name)
	if err != nil {
		return nil, err
	}
	var short []QuotaShortfall
	for _, q := range published {
		others := use.OnDemand
		if q.spot {
			others = use.Spot
		}
		if float64(q.need+others) > q.value {
			short = append(short, QuotaShortfall{Code: q.code, Name: q.name, Need: q.need, Others: others, Quota: int(q.value), Parts: q.parts})
		}
	}
	return short, nil
}

// VCPUUse is what running instances take of the two standard-family
// quotas, in vCPUs.
type VCPUUse struct{ OnDemand, Spot int }

// RegionVCPUsOutside adds up the vCPUs of the region's pending and running
// standard-family instances that are not the cluster's (those carry its
// kforge.io/cluster tag and are already in its need at the pools' max):
// On-Demand ones against L-1216C47A, Spot ones against L-34B43A08. Each
// counts at its type's default vCPUs, the most it can have; instances of
// other purchase options (Capacity Blocks) are left out.
func RegionVCPUsOutside(ctx context.Context, api VCPUReader, cluster string) (VCPUUse, error) {
	count := map[ec2types.InstanceLifecycleType]map[string]int{"": {}, ec2types.InstanceLifecycleTypeSpot: {}}
	p := ec2.NewDescribeInstancesPaginator(api, &ec2.DescribeInstancesInput{
		Filters: []ec2types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"pending", "running"}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return VCPUUse{}, fmt.Errorf("reading the region's running instances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, i := range r.Instances {
				byType, ok := count[i.InstanceLifecycle]
				if !ok || !standardFamily(string(i.InstanceType)) || taggedWith(i.Tags, cluster) {
					continue
				}
				byType[string(i.InstanceType)]++
			}
		}
	}
	var types []string
	for _, byType := range count {
		types = append(types, slices.Collect(maps.Keys(byType))...)
	}
	slices.Sort(types)
	vcpus, err := instanceVCPUs(ctx, api, slices.Compact(types))
	if err != nil {
		return VCPUUse{}, err
	}
	var use VCPUUse
	for t, n := range count[""] {
		use.OnDemand += n * vcpus[t]
	}
	for t, n := range count[ec2types.InstanceLifecycleTypeSpot] {
		use.Spot += n * vcpus[t]
	}
	return use, nil
}

// taggedWith reports whether an EC2 resource's tags hold
// kforge.io/cluster = cluster; an empty cluster matches nothing.
func taggedWith(tags []ec2types.Tag, cluster string) bool {
	for _, t := range tags {
		if aws.ToString(t.Key) == sweep.ClusterTag {
			return cluster != "" && aws.ToString(t.Value) == cluster
		}
	}
	return false
}

// describeTypesMax is how many instance types one DescribeInstanceTypes
// call may name.
const describeTypesMax = 100

// instanceVCPUs reads the default vCPUs of the named instance types.
func instanceVCPUs(ctx context.Context, api InstanceTypeLister, types []string) (map[string]int, error) {
	vcpus := map[string]int{}
	err := describeInstanceTypes(ctx, api, types, "vCPUs", func(it ec2types.InstanceTypeInfo) {
		if it.VCpuInfo != nil {
			vcpus[string(it.InstanceType)] = int(aws.ToInt32(it.VCpuInfo.DefaultVCpus))
		}
	})
	return vcpus, err
}

// describeInstanceTypes hands each of the named instance types EC2 knows to
// read, in batches of the most one call may name; what names what is read,
// for the error.
func describeInstanceTypes(ctx context.Context, api InstanceTypeLister, types []string, what string, read func(ec2types.InstanceTypeInfo)) error {
	for batch := range slices.Chunk(types, describeTypesMax) {
		in := &ec2.DescribeInstanceTypesInput{}
		for _, t := range batch {
			in.InstanceTypes = append(in.InstanceTypes, ec2types.InstanceType(t))
		}
		p := ec2.NewDescribeInstanceTypesPaginator(api, in)
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("reading the %s of %s: %w", what, strings.Join(batch, ", "), err)
			}
			for _, it := range page.InstanceTypes {
				read(it)
			}
		}
	}
	return nil
}

// readQuota returns a quota's name and applied value; found is false when
// the region does not publish it (NoSuchResource). The EC2 and VPC quotas
// kforge reads always have an applied value where they exist, so the
// default is not read.
func readQuota(ctx context.Context, quotas QuotaReader, service, code string) (name string, value float64, found bool, err error) {
	out, err := quotas.GetServiceQuota(ctx, &servicequotas.GetServiceQuotaInput{ServiceCode: aws.String(service), QuotaCode: aws.String(code)})
	var missing *sqtypes.NoSuchResourceException
	switch {
	case errors.As(err, &missing):
		return "", 0, false, nil
	case err != nil:
		return "", 0, false, fmt.Errorf("reading %s quota %s: %w", service, code, err)
	case out.Quota == nil:
		return "", 0, false, nil
	}
	return aws.ToString(out.Quota.QuotaName), aws.ToFloat64(out.Quota.Value), true, nil
}

// Warning is the shortfall as one line for the operator, with the request
// that raises the quota.
func (s QuotaShortfall) Warning(env, region string) string {
	over := fmt.Sprintf("over the account's quota of %d in %s (%s), which every other instance in the region shares", s.Quota, region, s.Code)
	if s.Others > 0 {
		over = fmt.Sprintf("while the region's other instances already run %d of the account's quota of %d in %s (%s)", s.Others, s.Quota, region, s.Code)
	}
	want := s.Need + s.Others
	return fmt.Sprintf("%s needs up to %d vCPUs of %s at its pools' max (%s), %s: "+
		"launches past it fail with VcpuLimitExceeded and Cluster Autoscaler cannot scale out. Ask for more: aws service-quotas request-service-quota-increase --region %s --service-code ec2 --quota-code %s --desired-value %d",
		env, s.Need, s.Name, strings.Join(s.Parts, ", "), over, region, s.Code, want)
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
