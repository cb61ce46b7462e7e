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
	all := []string{c.ControlPlane.InstanceType}
	for _, p := range c.WorkerPools {
		all = append(all, p.InstanceTypes...)
	}
	all = slices.DeleteFunc(all, func(t string) bool { return !standardFamily(t) })
	slices.Sort(all)
	return slices.Compact(all)
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
}
