package cluster

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// The emulator answers DescribeAccountLimits with a Network Load Balancer
// quota of 20 (AWS's default is 50) and 3,000 target groups. Others' NLBs
// count, an Application Load Balancer does not: with 19 the cluster's NLB
// fits, with 20 it does not, and the message names the region's quota
// and the request that raises it. Target groups are counted whole.
func TestCheckLoadBalancerQuotasAgainstEmulator(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	api := elbv2.NewFromConfig(cfg)
	ec2api := ec2.NewFromConfig(cfg)

	vpc, err := ec2api.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.8.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	var subnets []string
	for i, zone := range []string{"eu-west-1a", "eu-west-1b"} {
		out, err := ec2api.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String(fmt.Sprintf("10.8.%d.0/24", i)), AvailabilityZone: aws.String(zone)})
		if err != nil {
			t.Fatal(err)
		}
		subnets = append(subnets, aws.ToString(out.Subnet.SubnetId))
	}
	made := 0
	loadBalancers := func(n int, kind elbv2types.LoadBalancerTypeEnum) {
		t.Helper()
		for range n {
			made++
			if _, err := api.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String(fmt.Sprintf("others-%d", made)), Subnets: subnets, Type: kind}); err != nil {
				t.Fatal(err)
			}
		}
	}
	loadBalancers(19, elbv2types.LoadBalancerTypeEnumNetwork)
	loadBalancers(1, elbv2types.LoadBalancerTypeEnumApplication)
	for i := range 3 {
		if _, err := api.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String(fmt.Sprintf("others-%d", i)), Protocol: elbv2types.ProtocolEnumTcp,
			Port: aws.Int32(30443), VpcId: vpc.Vpc.VpcId, TargetType: elbv2types.TargetTypeEnumInstance}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := countTargetGroups(ctx, api); err != nil || n != 3 {
		t.Errorf("countTargetGroups = %d, %v; want 3", n, err)
	}

	creates := planCreates(prodFirstPlan(t))
	if short, err := CheckLoadBalancerQuotas(ctx, api, creates, "eu-west-1"); err != nil || len(short) != 0 {
		t.Fatalf("19 NLBs of others and the cluster's one: got %+v, %v; want no shortfall", short, err)
	}
	loadBalancers(1, elbv2types.LoadBalancerTypeEnumNetwork)
	short, err := CheckLoadBalancerQuotas(ctx, api, creates, "eu-west-1")
	want := []PlanShortfall{{What: "Network Load Balancer", Name: "Network Load Balancers per Region", Service: "elasticloadbalancing", Code: "L-69A177A2",
		Holder: "eu-west-1", RequestRegion: "eu-west-1", Fails: "TooManyLoadBalancers", Need: 1, Used: 20, Quota: 20}}
	if err != nil || !reflect.DeepEqual(short, want) {
		t.Fatalf("20 NLBs of others: got %+v, %v; want %+v", short, err, want)
	}
	msg := short[0].Message("prod")
	for _, part := range []string{
		`prod's plan creates 1 Network Load Balancer, and eu-west-1 already holds 20 of its quota of 20 ("Network Load Balancers per Region")`,
		"TooManyLoadBalancers",
		"aws service-quotas request-service-quota-increase --region eu-west-1 --service-code elasticloadbalancing --quota-code L-69A177A2 --desired-value 21",
	} {
		if !strings.Contains(msg, part) {
			t.Errorf("message lacks %q:\n%s", part, msg)
		}
	}
	// A plan that creates neither reads nothing: there is no API to read.
	if short, err := CheckLoadBalancerQuotas(ctx, nil, map[string]int{"aws_iam_role": 2}, "eu-west-1"); err != nil || short != nil {
		t.Errorf("a plan creating no load balancer: got %+v, %v", short, err)
	}
}
