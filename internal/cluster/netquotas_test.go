package cluster

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/servicequotas"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/exitcode"
	"github.com/kforge/kforge/internal/localaws"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/sweep"
)

// netQuotaCluster is prod's network: a NAT gateway in each of 3 zones.
func netQuotaCluster() *config.Cluster {
	return &config.Cluster{Name: "prod", Region: "eu-west-1", Network: config.Network{AZCount: 3, NATGateway: true}}
}

// region is an emulated eu-west-1, to fill with VPCs, gateways, endpoints
// and addresses, each of nobody's or tagged for a cluster.
type region struct {
	t      *testing.T
	cfg    aws.Config
	em     *localaws.Emulator
	api    *ec2.Client
	quotas *servicequotas.Client
}

func newRegion(t *testing.T) region {
	cfg, em := localawstest.ConfigForTest(t, "eu-west-1")
	return region{t: t, cfg: cfg, em: em, api: ec2.NewFromConfig(cfg), quotas: servicequotas.NewFromConfig(cfg)}
}

// vpc creates a VPC of nobody's and returns its id.
func (r region) vpc() *string {
	r.t.Helper()
	out, err := r.api.CreateVpc(context.Background(), &ec2.CreateVpcInput{CidrBlock: aws.String("10.9.0.0/16")})
	if err != nil {
		r.t.Fatal(err)
	}
	return out.Vpc.VpcId
}

func clusterTags(kind ec2types.ResourceType, cluster string) []ec2types.TagSpecification {
	if cluster == "" {
		return nil
	}
	return []ec2types.TagSpecification{{ResourceType: kind, Tags: []ec2types.Tag{{Key: aws.String(sweep.ClusterTag), Value: aws.String(cluster)}}}}
}

// onceTag marks each resource the helpers below create with its own
// value. moto loses answers under load and the SDK then sends the create
// again, which makes a second VPC, gateway or address of the same request;
// createOnce deletes such a second one, so the counts the tests assert hold.
const onceTag = "kforge-test-once"

var onceSeq atomic.Int64

// onceTags are the tags of one resource the helpers create: the cluster's
// (none for nobody's) and onceTag with a value of its own.
func onceTags(kind ec2types.ResourceType, cluster string) ([]ec2types.TagSpecification, []ec2types.Filter) {
	value := strconv.FormatInt(onceSeq.Add(1), 10)
	tags := []ec2types.Tag{{Key: aws.String(onceTag), Value: aws.String(value)}}
	if cluster != "" {
		tags = append(tags, ec2types.Tag{Key: aws.String(sweep.ClusterTag), Value: aws.String(cluster)})
	}
	return []ec2types.TagSpecification{{ResourceType: kind, Tags: tags}}, []ec2types.Filter{{Name: aws.String("tag:" + onceTag), Values: []string{value}}}
}

// createOnce makes n resources of kind with create, each tagged by
// onceTags. list returns the ids of the resources holding a filter's
// value, and del deletes all but the first of them: a second one that a
// retried create made.
func (r region) createOnce(n int, kind ec2types.ResourceType, cluster string,
	create func([]ec2types.TagSpecification) error, list func([]ec2types.Filter) ([]string, error), del func(id string) error) {
	r.t.Helper()
	for range n {
		tags, filter := onceTags(kind, cluster)
		if err := create(tags); err != nil {
			r.t.Fatal(err)
		}
		ids, err := list(filter)
		if err != nil {
			r.t.Fatal(err)
		}
		for _, id := range ids[min(1, len(ids)):] {
			if err := del(id); err != nil {
				r.t.Fatalf("deleting %s, made twice by a retried create: %v", id, err)
			}
		}
	}
}

func (r region) vpcs(n int, cluster string) {
	r.t.Helper()
	ctx := context.Background()
	r.createOnce(n, ec2types.ResourceTypeVpc, cluster, func(tags []ec2types.TagSpecification) error {
		_, err := r.api.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.1.0.0/16"), TagSpecifications: tags})
		return err
	}, func(filter []ec2types.Filter) (ids []string, err error) {
		out, err := r.api.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: filter})
		if err == nil {
			for _, v := range out.Vpcs {
				ids = append(ids, aws.ToString(v.VpcId))
			}
		}
		return ids, err
	}, func(id string) error {
		_, err := r.api.DeleteVpc(ctx, &ec2.DeleteVpcInput{VpcId: aws.String(id)})
		return err
	})
}

func (r region) gateways(n int, cluster string) {
	r.t.Helper()
	ctx := context.Background()
	r.createOnce(n, ec2types.ResourceTypeInternetGateway, cluster, func(tags []ec2types.TagSpecification) error {
		_, err := r.api.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{TagSpecifications: tags})
		return err
	}, func(filter []ec2types.Filter) (ids []string, err error) {
		out, err := r.api.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: filter})
		if err == nil {
			for _, g := range out.InternetGateways {
				ids = append(ids, aws.ToString(g.InternetGatewayId))
			}
		}
		return ids, err
	}, func(id string) error {
		_, err := r.api.DeleteInternetGateway(ctx, &ec2.DeleteInternetGatewayInput{InternetGatewayId: aws.String(id)})
		return err
	})
}

func (r region) addresses(n int, cluster string) {
	r.t.Helper()
	ctx := context.Background()
	r.createOnce(n, ec2types.ResourceTypeElasticIp, cluster, func(tags []ec2types.TagSpecification) error {
		_, err := r.api.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc, TagSpecifications: tags})
		return err
	}, func(filter []ec2types.Filter) (ids []string, err error) {
		out, err := r.api.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: filter})
		if err == nil {
			for _, a := range out.Addresses {
				ids = append(ids, aws.ToString(a.AllocationId))
			}
		}
		return ids, err
	}, func(id string) error {
		_, err := r.api.ReleaseAddress(ctx, &ec2.ReleaseAddressInput{AllocationId: aws.String(id)})
		return err
	})
}

// moto publishes the VPC quotas at AWS's defaults (5 VPCs and 5 internet
// gateways per Region) and no EC2 quota, so the addresses are compared only
// against a stand-in. Every VPC and gateway of the region counts, the
// default VPC's too, except the cluster's own.
func TestCheckNetworkQuotasAgainstEmulator(t *testing.T) {
	r := newRegion(t)
	ctx, api, quotas := context.Background(), r.api, r.quotas
	c := netQuotaCluster()

	vpcs, _, err := countVPCs(ctx, api, "prod")
	if err != nil {
		t.Fatal(err)
	}
	gateways, _, err := countInternetGateways(ctx, api, "prod")
	if err != nil {
		t.Fatal(err)
	}
	// The default VPC and 3 of nobody's: the cluster's would be the fifth.
	r.vpcs(4-vpcs, "")
	r.vpcs(2, "prod")
	r.vpcs(1, "staging")
	// 4 gateways that are not the cluster's leave room for its own.
	r.gateways(4-gateways, "")
	r.gateways(1, "prod")
	r.addresses(6, "")
	short, err := CheckNetworkQuotas(ctx, api, quotas, c, "prod")
	if err != nil {
		t.Fatal(err)
	}
	// staging's VPC is the one too many; the gateways leave room.
	if len(short) != 1 || short[0].Code != QuotaVPCs || short[0].Need != 1 || short[0].Others != 5 || short[0].Quota != 5 {
		t.Fatalf("shortfalls %+v, want only VPCs: 1 needed, 5 others, quota 5", short)
	}
	m := short[0].Message("prod", "eu-west-1")
	for _, part := range []string{
		`prod needs 1 of the account's VPCs in eu-west-1 (its own), and the region already holds 5 that are not the cluster's, against "VPCs per Region" of 5 (L-F678F1CE)`,
		"VpcLimitExceeded", "delete an unused VPC",
		"--region eu-west-1 --service-code vpc --quota-code L-F678F1CE --desired-value 6",
	} {
		if !strings.Contains(m, part) {
			t.Errorf("message lacks %q:\n%s", part, m)
		}
	}

	// One gateway more fills that quota too.
	r.gateways(1, "staging")
	if short, err = CheckNetworkQuotas(ctx, api, quotas, c, "prod"); err != nil || len(short) != 2 || short[1].Code != QuotaInternetGateways || short[1].Others != 5 {
		t.Fatalf("with 5 other gateways: %+v, %v", short, err)
	}
}

// The Elastic IP quota is EC2's, which the emulator does not publish; a
// stand-in answers it. The cluster needs one address per NAT gateway, and
// none without NAT gateways.
func TestCheckNetworkQuotasElasticIPs(t *testing.T) {
	r := newRegion(t)
	ctx, api := context.Background(), r.api
	c := netQuotaCluster()
	r.addresses(2, "")
	r.addresses(3, "prod") // the cluster's own, in its need already
	r.addresses(1, "staging")

	room := map[string]float64{QuotaVPCs: 5, QuotaInternetGateways: 5, QuotaNATGatewaysPerZone: 5, QuotaGatewayEndpoints: 20, QuotaElasticIPs: 5}
	short, err := CheckNetworkQuotas(ctx, api, fakeServiceQuotas(t, room, false), c, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(short) != 1 || short[0].Code != QuotaElasticIPs || short[0].Need != 3 || short[0].Others != 3 {
		t.Fatalf("shortfalls %+v, want Elastic IPs: 3 needed, 3 others", short)
	}
	m := short[0].Message("prod", "eu-west-1")
	for _, part := range []string{
		"prod needs 3 of the account's Elastic IP addresses in eu-west-1 (one per NAT gateway: network.natGateway in network.azCount 3 zones)",
		"AddressLimitExceeded", "lower network.azCount", "--service-code ec2 --quota-code L-0263D0A3 --desired-value 6",
	} {
		if !strings.Contains(m, part) {
			t.Errorf("message lacks %q:\n%s", part, m)
		}
	}

	// docs/OPERATIONS.md shows this refusal, with AWS's name of the quota.
	short[0].Name = "EC2-VPC Elastic IPs"
	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	if line := "Error: " + short[0].Message("prod", "eu-west-1") + "\n"; !strings.Contains(string(doc), line) {
		t.Errorf("docs/OPERATIONS.md does not show the refusal as up prints it:\n%s", line)
	}

	room[QuotaElasticIPs] = 6
	if short, err := CheckNetworkQuotas(ctx, api, fakeServiceQuotas(t, room, false), c, "prod"); err != nil || len(short) != 0 {
		t.Errorf("with room for 3 more addresses: %+v, %v", short, err)
	}
	c.Network.NATGateway = false
	room[QuotaElasticIPs] = 0
	if short, err := CheckNetworkQuotas(ctx, api, fakeServiceQuotas(t, room, false), c, "prod"); err != nil || len(short) != 0 {
		t.Errorf("without NAT gateways no address is needed: %+v, %v", short, err)
	}
}

// up refuses a full quota before anything is applied (exit 1, with the
// whole message); plan only warns; an unreadable quota is a note.
func TestCheckNetworkQuotasRefusesUpAndWarnsPlan(t *testing.T) {
	r := newRegion(t)
	ctx := context.Background()
	vpcs, _, err := countVPCs(ctx, r.api, "")
	if err != nil {
		t.Fatal(err)
	}
	r.vpcs(5-vpcs, "")

	ui := &recordingUI{}
	e := &Env{Name: "prod", Config: netQuotaCluster(), awsCfg: &r.cfg, opts: Options{UI: ui}}
	err = e.checkNetworkQuotas(ctx, true)
	var ee *exitcode.Error
	if !errors.As(err, &ee) || ee.Code != exitcode.Failure || !strings.HasPrefix(err.Error(), "prod needs 1 of the account's VPCs in eu-west-1") {
		t.Fatalf("up with a full VPC quota: want a failure naming the VPC quota, got %v", err)
	}
	if err := e.checkNetworkQuotas(ctx, false); err != nil {
		t.Fatalf("plan with a full VPC quota failed: %v", err)
	}
	if len(ui.notes) != 1 || !strings.HasPrefix(ui.notes[0], "warning: prod needs 1 of the account's VPCs") {
		t.Errorf("plan printed %q, want one warning", ui.notes)
	}

	if err := r.em.Stop(); err != nil {
		t.Fatal(err)
	}
	ui.notes = nil
	if err := e.checkNetworkQuotas(ctx, true); err != nil {
		t.Fatalf("an unreadable quota failed up: %v", err)
	}
	if len(ui.notes) != 1 || !strings.HasPrefix(ui.notes[0], "note: the region's network quotas (VPCs, internet and NAT gateways, gateway endpoints, Elastic IPs) were not checked") {
		t.Errorf("want a note that the quotas were not checked, got %q", ui.notes)
	}
}

// moto publishes the NAT gateway quota per zone at AWS's default of 5.
// Only the cluster's zones count, and in each only gateways that are not
// the cluster's and not deleted.
func TestCheckNetworkQuotasNATGatewaysPerZone(t *testing.T) {
	r := newRegion(t)
	ctx, api, quotas := context.Background(), r.api, r.quotas
	subnet, err := api.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: r.vpc(), CidrBlock: aws.String("10.9.1.0/24"), AvailabilityZone: aws.String("eu-west-1b")})
	if err != nil {
		t.Fatal(err)
	}
	nat := func(cluster string) string {
		t.Helper()
		eip, err := api.AllocateAddress(ctx, &ec2.AllocateAddressInput{Domain: ec2types.DomainTypeVpc})
		if err != nil {
			t.Fatal(err)
		}
		out, err := api.CreateNatGateway(ctx, &ec2.CreateNatGatewayInput{
			SubnetId: subnet.Subnet.SubnetId, AllocationId: eip.AllocationId,
			TagSpecifications: clusterTags(ec2types.ResourceTypeNatgateway, cluster),
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.NatGateway.NatGatewayId)
	}
	for range 4 {
		nat("")
	}
	nat("prod") // the cluster's own, in its need already
	gone := nat("")
	if _, err := api.DeleteNatGateway(ctx, &ec2.DeleteNatGatewayInput{NatGatewayId: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	c := netQuotaCluster()
	if short, err := CheckNetworkQuotas(ctx, api, quotas, c, "prod"); err != nil || len(short) != 0 {
		t.Fatalf("4 others in eu-west-1b leave room for the cluster's: %+v, %v", short, err)
	}
	nat("staging")
	short, err := CheckNetworkQuotas(ctx, api, quotas, c, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(short) != 1 || short[0].Code != QuotaNATGatewaysPerZone || short[0].Where != "zone eu-west-1b" || short[0].Others != 5 {
		t.Fatalf("shortfalls %+v, want NAT gateways in zone eu-west-1b: 5 others", short)
	}
	m := short[0].Message("prod", "eu-west-1")
	for _, part := range []string{
		`prod needs 1 of the account's NAT gateways in eu-west-1 (one in each of its zones), and zone eu-west-1b already holds 5 that are not the cluster's, against "NAT gateways per Availability Zone" of 5 (L-FE5A380F)`,
		"NatGatewayLimitExceeded", "network.excludeZoneIDs", "--service-code vpc --quota-code L-FE5A380F --desired-value 6",
	} {
		if !strings.Contains(m, part) {
			t.Errorf("message lacks %q:\n%s", part, m)
		}
	}
	// A cluster in eu-west-1a alone does not use that zone.
	c.Network.AZCount = 1
	if short, err := CheckNetworkQuotas(ctx, api, quotas, c, "prod"); err != nil || len(short) != 0 {
		t.Errorf("a cluster outside eu-west-1b: %+v, %v", short, err)
	}
}

// moto publishes the gateway endpoint quota at AWS's default of 20. Every
// gateway endpoint of the region counts but the cluster's own and those
// deleted; interface endpoints have a quota of their own, per VPC.
func TestCheckNetworkQuotasGatewayEndpoints(t *testing.T) {
	r := newRegion(t)
	ctx, api, quotas := context.Background(), r.api, r.quotas
	vpc := r.vpc()
	endpoint := func(kind ec2types.VpcEndpointType, cluster string) string {
		t.Helper()
		out, err := api.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{
			VpcId: vpc, ServiceName: aws.String("com.amazonaws.eu-west-1.s3"), VpcEndpointType: kind,
			TagSpecifications: clusterTags(ec2types.ResourceTypeVpcEndpoint, cluster),
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.VpcEndpoint.VpcEndpointId)
	}
	for range 19 {
		endpoint(ec2types.VpcEndpointTypeGateway, "")
	}
	endpoint(ec2types.VpcEndpointTypeGateway, "prod")
	endpoint(ec2types.VpcEndpointTypeInterface, "")
	gone := endpoint(ec2types.VpcEndpointTypeGateway, "")
	if _, err := api.DeleteVpcEndpoints(ctx, &ec2.DeleteVpcEndpointsInput{VpcEndpointIds: []string{gone}}); err != nil {
		t.Fatal(err)
	}
	c := netQuotaCluster()
	if short, err := CheckNetworkQuotas(ctx, api, quotas, c, "prod"); err != nil || len(short) != 0 {
		t.Fatalf("19 others leave room for the cluster's: %+v, %v", short, err)
	}
	endpoint(ec2types.VpcEndpointTypeGateway, "staging")
	short, err := CheckNetworkQuotas(ctx, api, quotas, c, "prod")
	if err != nil {
		t.Fatal(err)
	}
	if len(short) != 1 || short[0].Code != QuotaGatewayEndpoints || short[0].Others != 20 || short[0].Quota != 20 {
		t.Fatalf("shortfalls %+v, want gateway endpoints: 20 others, quota 20", short)
	}
	if m := short[0].Message("prod", "eu-west-1"); !strings.Contains(m, "VpcEndpointLimitExceeded") || !strings.Contains(m, "--quota-code L-1B52E74A --desired-value 21") {
		t.Errorf("message: %s", m)
	}
}
