package cluster

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// A region holds 50 Network Load Balancers and 3,000 target groups by
// default, and every Kubernetes Service of type LoadBalancer that the AWS
// Load Balancer Controller of another cluster in the account serves is a
// Network Load Balancer. The cluster's NLB (its
// only load balancer: terraform/modules/ingress) depends on the subnets,
// so a full quota stops the apply at it (TooManyLoadBalancers) with the
// network, the key and the buckets made. Elastic Load Balancing answers
// its quotas with DescribeAccountLimits, and the use is a count.

// LoadBalancerReader is the Elastic Load Balancing calls the check makes.
type LoadBalancerReader interface {
	DescribeAccountLimits(context.Context, *elbv2.DescribeAccountLimitsInput, ...func(*elbv2.Options)) (*elbv2.DescribeAccountLimitsOutput, error)
	DescribeLoadBalancers(context.Context, *elbv2.DescribeLoadBalancersInput, ...func(*elbv2.Options)) (*elbv2.DescribeLoadBalancersOutput, error)
	DescribeTargetGroups(context.Context, *elbv2.DescribeTargetGroupsInput, ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
}

// lbQuota is one of the region's load balancer quotas the cluster takes
// from.
type lbQuota struct {
	resourceType string
	one, several string
	// limit is DescribeAccountLimits' name of the quota.
	limit string
	// name is the quota's name in Service Quotas, code its quota code
	// where known, fails the create's error past it.
	name, code, fails string
	count             func(context.Context, LoadBalancerReader) (int, error)
}

var lbQuotas = []lbQuota{
	{"aws_lb", "Network Load Balancer", "Network Load Balancers", "network-load-balancers",
		"Network Load Balancers per Region", "L-69A177A2", "TooManyLoadBalancers", countNetworkLoadBalancers},
	{"aws_lb_target_group", "target group", "target groups", "target-groups",
		"Target Groups per Region", "", "TooManyTargetGroups", countTargetGroups},
}

// CheckLoadBalancerQuotas returns the region's load balancer quotas that
// creates (planCreates) would pass. A plan that creates no load balancer
// or target group reads nothing; a quota DescribeAccountLimits does not
// name is not compared.
func CheckLoadBalancerQuotas(ctx context.Context, api LoadBalancerReader, creates map[string]int, region string) ([]PlanShortfall, error) {
	needed := false
	for _, q := range lbQuotas {
		needed = needed || creates[q.resourceType] > 0
	}
	if !needed {
		return nil, nil
	}
	limits := map[string]int{}
	p := elbv2.NewDescribeAccountLimitsPaginator(api, &elbv2.DescribeAccountLimitsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("reading them (elasticloadbalancing:DescribeAccountLimits): %w", err)
		}
		for _, l := range page.Limits {
			var value int
			if _, err := fmt.Sscan(aws.ToString(l.Max), &value); err == nil {
				limits[aws.ToString(l.Name)] = value
			}
		}
	}
	var short []PlanShortfall
	for _, q := range lbQuotas {
		n := creates[q.resourceType]
		quota, ok := limits[q.limit]
		if n == 0 || !ok {
			continue
		}
		used, err := q.count(ctx, api)
		if err != nil {
			return nil, err
		}
		if used+n > quota {
			short = append(short, PlanShortfall{
				What: plural(n, q.one, q.several), Name: q.name, Service: "elasticloadbalancing", Code: q.code,
				Holder: region, RequestRegion: region, Fails: q.fails,
				Need: n, Used: used, Quota: quota,
			})
		}
	}
	return short, nil
}

// countNetworkLoadBalancers counts the region's Network Load Balancers,
// in every state.
func countNetworkLoadBalancers(ctx context.Context, api LoadBalancerReader) (int, error) {
	n := 0
	p := elbv2.NewDescribeLoadBalancersPaginator(api, &elbv2.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("reading the region's load balancers (elasticloadbalancing:DescribeLoadBalancers): %w", err)
		}
		for _, lb := range page.LoadBalancers {
			if lb.Type == elbv2types.LoadBalancerTypeEnumNetwork {
				n++
			}
		}
	}
	return n, nil
}

// countTargetGroups counts the region's target groups, of every kind.
func countTargetGroups(ctx context.Context, api LoadBalancerReader) (int, error) {
	n := 0
	p := elbv2.NewDescribeTargetGroupsPaginator(api, &elbv2.DescribeTargetGroupsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, fmt.Errorf("reading the region's target groups (elasticloadbalancing:DescribeTargetGroups): %w", err)
		}
		n += len(page.TargetGroups)
	}
	return n, nil
}
