package cluster

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/kforge/kforge/internal/config"
)

// A Region holds 5 VPCs, 5 internet gateways, 5 Elastic IP addresses and
// 20 gateway VPC endpoints by default, and everything in it counts, the
// default VPC too; each Availability Zone holds 5 NAT gateways. The
// emulator has no such limit. On AWS a full quota fails the first apply
// part way, with what Terraform created alongside left behind (the key,
// the buckets, the roles): at the VPC (VpcLimitExceeded), the internet
// gateway (InternetGatewayLimitExceeded), the S3 endpoint
// (VpcEndpointLimitExceeded), the NAT gateways' addresses
// (AddressLimitExceeded) or a NAT gateway (NatGatewayLimitExceeded). So up
// compares the quotas with the region's use before anything is applied,
// and plan warns.
const (
	// QuotaVPCs is "VPCs per Region" (service code vpc).
	QuotaVPCs = "L-F678F1CE"
	// QuotaInternetGateways is "Internet gateways per Region" (vpc).
	QuotaInternetGateways = "L-A4707A72"
	// QuotaElasticIPs is "EC2-VPC Elastic IPs" (service code ec2).
	QuotaElasticIPs = "L-0263D0A3"
	// QuotaNATGatewaysPerZone is "NAT gateways per Availability Zone" (vpc).
	QuotaNATGatewaysPerZone = "L-FE5A380F"
	// QuotaGatewayEndpoints is "Gateway VPC endpoints per Region" (vpc).
	QuotaGatewayEndpoints = "L-1B52E74A"
)

// NetworkReader is the EC2 calls the network quota check makes: what the
// region holds of each counted resource, and the cluster's zones.
type NetworkReader interface {
	ZoneReader
	DescribeNatGateways(context.Context, *ec2.DescribeNatGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeNatGatewaysOutput, error)
	DescribeSubnets(context.Context, *ec2.DescribeSubnetsInput, ...func(*ec2.Options)) (*ec2.DescribeSubnetsOutput, error)
	DescribeVpcEndpoints(context.Context, *ec2.DescribeVpcEndpointsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcEndpointsOutput, error)
	DescribeVpcs(context.Context, *ec2.DescribeVpcsInput, ...func(*ec2.Options)) (*ec2.DescribeVpcsOutput, error)
	DescribeInternetGateways(context.Context, *ec2.DescribeInternetGatewaysInput, ...func(*ec2.Options)) (*ec2.DescribeInternetGatewaysOutput, error)
	DescribeAddresses(context.Context, *ec2.DescribeAddressesInput, ...func(*ec2.Options)) (*ec2.DescribeAddressesOutput, error)
}

// networkQuota is one regional quota the network module takes from: what
// the cluster needs of it, how to count the region's use, and what the
// apply does when it is full.
type networkQuota struct {
	service, code string
	// what names the resource, plural.
	what string
	need int
	// why says where the need comes from.
	why string
	// count reads how many resources of this kind that are not the
	// cluster's (those carry its kforge.io/cluster tag and are in the need
	// already) the region holds, or, for a quota per zone, the fullest of
	// the cluster's zones; where names which.
	count func(ctx context.Context, api NetworkReader, cluster string) (n int, where string, err error)
	// fails says where the apply fails, and what it leaves.
	fails string
	// free says what the operator can do besides asking for more.
	free string
}

// networkQuotas are the quotas the cluster's network takes from, each
// with its need; a quota the cluster needs none of is left out.
func networkQuotas(c *config.Cluster) []networkQuota {
	qs := []networkQuota{
		{
			service: "vpc", code: QuotaVPCs, what: "VPCs", need: 1, why: "its own",
			count: countVPCs, fails: "the apply would fail at the VPC with VpcLimitExceeded, leaving what it created alongside",
			free: "delete an unused VPC",
		},
		{
			service: "vpc", code: QuotaInternetGateways, what: "internet gateways", need: 1, why: "one for its VPC",
			count: countInternetGateways, fails: "the apply would fail at the internet gateway with InternetGatewayLimitExceeded, leaving the VPC and what it created alongside",
			free: "delete an unused internet gateway",
		},
		{
			service: "vpc", code: QuotaGatewayEndpoints, what: "gateway VPC endpoints", need: 1, why: "its S3 endpoint",
			count: countGatewayEndpoints, fails: "the apply would fail at the S3 endpoint with VpcEndpointLimitExceeded, leaving the VPC and what it created alongside",
			free: "delete an unused gateway endpoint",
		},
	}
	if c.Network.NATGateway && c.Network.AZCount > 0 {
		qs = append(qs, networkQuota{
			service: "ec2", code: QuotaElasticIPs, what: "Elastic IP addresses", need: c.Network.AZCount,
			why:   fmt.Sprintf("one per NAT gateway: network.natGateway in network.azCount %d zones", c.Network.AZCount),
			count: countElasticIPs, fails: "the apply would fail at the NAT gateways' addresses with AddressLimitExceeded, leaving what it created alongside",
			free: "release unused addresses, or lower network.azCount",
		}, networkQuota{
			service: "vpc", code: QuotaNATGatewaysPerZone, what: "NAT gateways", need: 1, why: "one in each of its zones",
			count: func(ctx context.Context, api NetworkReader, cluster string) (int, string, error) {
				return countNATGatewaysPerZone(ctx, api, cluster, c.Network)
			},
			fails: "the apply would fail at that zone's NAT gateway with NatGatewayLimitExceeded, leaving the VPC and what it created alongside",
			free:  "delete unused NAT gateways there, or leave the zone out with network.excludeZoneIDs",
		})
	}
	return qs
}

// NetworkShortfall is a quota under the cluster's need plus what the
// region (or, for a quota per zone, one of the cluster's zones) already
// holds.
type NetworkShortfall struct {
	Service, Code, Name, What string
	Need, Others, Quota       int
	// Where is "the region", or "zone <name>" for a quota per zone.
	Where            string
	why, fails, free string
}

// CheckNetworkQuotas returns the quotas the cluster's network would pass:
// what it needs of each, plus what the region (or the fullest of its
// zones) holds that is not the cluster's, over the applied quota. A quota the region does not publish (NoSuchResource) is
// not compared, and the region's resources of its kind are not read.
func CheckNetworkQuotas(ctx context.Context, api NetworkReader, quotas QuotaReader, c *config.Cluster, cluster string) ([]NetworkShortfall, error) {
	var short []NetworkShortfall
	for _, q := range networkQuotas(c) {
		name, value, found, err := readQuota(ctx, quotas, q.service, q.code)
		if err != nil {
			return nil, err
		}
		if !found {
			continue
		}
		others, where, err := q.count(ctx, api, cluster)
		if err != nil {
			return nil, err
		}
		if float64(q.need+others) > value {
			short = append(short, NetworkShortfall{
				Service: q.service, Code: q.code, Name: name, What: q.what,
				Need: q.need, Others: others, Quota: int(value), Where: where,
				why: q.why, fails: q.fails, free: q.free,
			})
		}
	}
	return short, nil
}

// Message is the shortfall as one line for the operator: what the cluster
// needs, what the region holds, where the apply would stop, and the
// request that raises the quota.
func (s NetworkShortfall) Message(env, region string) string {
	return fmt.Sprintf("%s needs %d of the account's %s in %s (%s), and %s already holds %d that are not the cluster's, against %q of %d (%s): "+
		"%s. Free some (%s), or ask for more: aws service-quotas request-service-quota-increase --region %s --service-code %s --quota-code %s --desired-value %d",
		env, s.Need, s.What, region, s.why, s.Where, s.Others, s.Name, s.Quota, s.Code,
		s.fails, s.free, region, s.Service, s.Code, s.Need+s.Others)
}

// theRegion is where a regional quota's use is counted.
const theRegion = "the region"

func countVPCs(ctx context.Context, api NetworkReader, cluster string) (int, string, error) {
	n := 0
	p := ec2.NewDescribeVpcsPaginator(api, &ec2.DescribeVpcsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, "", fmt.Errorf("reading the region's VPCs: %w", err)
		}
		for _, v := range page.Vpcs {
			if !taggedWith(v.Tags, cluster) {
				n++
			}
		}
	}
	return n, theRegion, nil
}

func countInternetGateways(ctx context.Context, api NetworkReader, cluster string) (int, string, error) {
	n := 0
	p := ec2.NewDescribeInternetGatewaysPaginator(api, &ec2.DescribeInternetGatewaysInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, "", fmt.Errorf("reading the region's internet gateways: %w", err)
		}
		for _, g := range page.InternetGateways {
			if !taggedWith(g.Tags, cluster) {
				n++
			}
		}
	}
	return n, theRegion, nil
}

// countElasticIPs counts the region's VPC addresses, associated or not:
// the quota counts every allocated one. DescribeAddresses answers in one
// page.
func countElasticIPs(ctx context.Context, api NetworkReader, cluster string) (int, string, error) {
	out, err := api.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{
		Filters: []ec2types.Filter{{Name: aws.String("domain"), Values: []string{"vpc"}}},
	})
	if err != nil {
		return 0, "", fmt.Errorf("reading the region's Elastic IP addresses: %w", err)
	}
	n := 0
	for _, a := range out.Addresses {
		if !taggedWith(a.Tags, cluster) {
			n++
		}
	}
	return n, theRegion, nil
}

// endpointGone are the states of a VPC endpoint that no longer takes from
// the quota, in lower case: the API spells them in either.
var endpointGone = []string{"deleted", "rejected", "failed", "expired"}

// countGatewayEndpoints counts the region's gateway VPC endpoints (S3 and
// DynamoDB) that are not the cluster's and not gone.
func countGatewayEndpoints(ctx context.Context, api NetworkReader, cluster string) (int, string, error) {
	n := 0
	p := ec2.NewDescribeVpcEndpointsPaginator(api, &ec2.DescribeVpcEndpointsInput{
		Filters: []ec2types.Filter{{Name: aws.String("vpc-endpoint-type"), Values: []string{string(ec2types.VpcEndpointTypeGateway)}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, "", fmt.Errorf("reading the region's VPC endpoints: %w", err)
		}
		for _, e := range page.VpcEndpoints {
			if !taggedWith(e.Tags, cluster) && !slices.Contains(endpointGone, strings.ToLower(string(e.State))) {
				n++
			}
		}
	}
	return n, theRegion, nil
}

// countNATGatewaysPerZone counts the NAT gateways that are not the
// cluster's in each of the cluster's zones, and returns the fullest zone.
// Pending, available and deleting gateways count against the quota; a
// regional NAT gateway, which has no subnet, belongs to no one zone and is
// not counted.
func countNATGatewaysPerZone(ctx context.Context, api NetworkReader, cluster string, n config.Network) (int, string, error) {
	zones, err := ClusterZones(ctx, api, n)
	if err != nil {
		return 0, "", err
	}
	var subnets []string
	p := ec2.NewDescribeNatGatewaysPaginator(api, &ec2.DescribeNatGatewaysInput{
		Filter: []ec2types.Filter{{Name: aws.String("state"), Values: []string{"pending", "available", "deleting"}}},
	})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, "", fmt.Errorf("reading the region's NAT gateways: %w", err)
		}
		for _, g := range page.NatGateways {
			if g.SubnetId != nil && !taggedWith(g.Tags, cluster) {
				subnets = append(subnets, aws.ToString(g.SubnetId))
			}
		}
	}
	count := map[string]int{}
	if len(subnets) > 0 {
		zoneOf := map[string]string{}
		p := ec2.NewDescribeSubnetsPaginator(api, &ec2.DescribeSubnetsInput{})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return 0, "", fmt.Errorf("reading the region's subnets: %w", err)
			}
			for _, s := range page.Subnets {
				zoneOf[aws.ToString(s.SubnetId)] = aws.ToString(s.AvailabilityZone)
			}
		}
		for _, s := range subnets {
			count[zoneOf[s]]++
		}
	}
	most, where := 0, ""
	for _, z := range zones {
		if where == "" || count[z] > most {
			most, where = count[z], "zone "+z
		}
	}
	return most, where, nil
}

// checkNetworkQuotas runs CheckNetworkQuotas for up (refuse: a shortfall
// stops the command before anything is applied) or plan (a warning); a
// failed read is a note, never a failure of the command.
func (e *Env) checkNetworkQuotas(ctx context.Context, refuse bool) error {
	cfg, err := e.AWSConfig(ctx)
	var short []NetworkShortfall
	if err == nil {
		short, err = CheckNetworkQuotas(ctx, ec2.NewFromConfig(cfg), servicequotas.NewFromConfig(cfg), e.Config, e.Config.Name)
	}
	if err != nil {
		e.opts.UI.Notef("note: the region's network quotas (VPCs, internet and NAT gateways, gateway endpoints, Elastic IPs) were not checked: %v\n", err)
		return nil
	}
	var lines []string
	for _, s := range short {
		lines = append(lines, s.Message(e.Name, e.Config.Region))
	}
	return e.shortfalls(lines, refuse)
}
