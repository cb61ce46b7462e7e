// Package inventory lists, through the AWS API, every resource of the types
// kforge's Terraform modules create that still belongs to a cluster. Teardown
// tests call it after `kforge down` and expect nothing.
//
// A resource belongs to the cluster when it carries the tag
// kforge.io/cluster=<cluster> (the provider's default_tags), when its name
// starts with the cluster name, or when it lives in a VPC that belongs to the
// cluster. ENIs and hosted zones cannot always carry the tags (AWS creates
// the ENIs of load balancers and mount targets), so they are also matched by
// their VPC, description or domain.
//
// The kind names are internal/sweep's, so that a report reads like a sweep;
// the listing logic is deliberately its own, so that the check that a
// teardown left nothing does not share a bug with the code that tore down.
package inventory

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"

	"github.com/kforge/kforge/internal/sweep"
)

// ClusterTag is the tag key every kforge resource carries.
const ClusterTag = sweep.ClusterTag

// KindObject is an object version left in a cluster bucket: a kind the
// inventory checks that the sweep does not (it deletes buckets whole).
const KindObject = "s3:object"

// Target names the cluster to look for.
type Target struct {
	// Cluster is the cluster name (kforge.io/cluster tag, name prefix).
	Cluster string
	// Domain is the cluster's DNS domain (its hosted zone); may be empty.
	Domain string
	// Endpoint is the emulator endpoint (S3 path style); empty on AWS.
	Endpoint string
}

// Resource is one leftover resource.
type Resource struct {
	Kind string // e.g. ec2:vpc, s3:object
	ID   string
	Why  string // how it was matched: tag, name, vpc, ...
}

func (r Resource) String() string { return r.Kind + " " + r.ID + " (" + r.Why + ")" }

// Report is the result of an inventory.
type Report struct {
	// Leftovers are the resources that still belong to the cluster.
	Leftovers []Resource
	// Scanned counts the resources seen per kind (matching or not), which
	// shows the inventory looked at every kind.
	Scanned map[string]int
}

// Kinds lists the resource kinds an inventory covers.
var Kinds = []string{
	sweep.KindVPC, sweep.KindSubnet, sweep.KindRouteTable, sweep.KindInternetGateway, sweep.KindNATGateway,
	sweep.KindEIP, sweep.KindSecurityGroup, sweep.KindVPCEndpoint, sweep.KindENI,
	sweep.KindInstance, sweep.KindLaunchTemplate, sweep.KindVolume,
	sweep.KindLoadBalancer, sweep.KindTargetGroup, sweep.KindASG,
	sweep.KindFileSystem, sweep.KindMountTarget, sweep.KindAccessPoint,
	sweep.KindBucket, KindObject, sweep.KindRole, sweep.KindPolicy, sweep.KindInstanceProfile,
	sweep.KindKMSKey, sweep.KindKMSAlias, sweep.KindHostedZone, sweep.KindRecord,
	sweep.KindQueue, sweep.KindEventRule,
}

type scan struct {
	t       Target
	cfg     aws.Config
	rep     *Report
	vpcs    map[string]bool // VPC ids that belong to the cluster
	prefix  string
	clients struct {
		ec2 *ec2.Client
	}
}

// Take inventories the account/region of cfg for t's resources.
func Take(ctx context.Context, cfg aws.Config, t Target) (*Report, error) {
	if t.Cluster == "" {
		return nil, fmt.Errorf("inventory: empty cluster name")
	}
	s := &scan{t: t, cfg: cfg, rep: &Report{Scanned: map[string]int{}}, vpcs: map[string]bool{}, prefix: t.Cluster}
	s.clients.ec2 = ec2.NewFromConfig(cfg)
	for _, k := range Kinds {
		s.rep.Scanned[k] = 0
	}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"VPCs", s.vpcsAndChildren}, // first: later steps match by VPC
		{"instances", s.instances},
		{"launch templates", s.launchTemplates},
		{"volumes", s.volumes},
		{"load balancers", s.loadBalancers},
		{"auto scaling groups", s.autoscalingGroups},
		{"EFS", s.efs},
		{"S3", s.buckets},
		{"IAM", s.iam},
		{"KMS", s.kms},
		{"SQS", s.queues},
		{"EventBridge", s.eventRules},
		{"Route 53", s.route53},
	}
	for _, st := range steps {
		if err := st.fn(ctx); err != nil {
			return nil, fmt.Errorf("inventory of %s: %w", st.name, err)
		}
	}
	sort.Slice(s.rep.Leftovers, func(i, j int) bool {
		a, b := s.rep.Leftovers[i], s.rep.Leftovers[j]
		if a.Kind != b.Kind {
			return a.Kind < b.Kind
		}
		return a.ID < b.ID
	})
	return s.rep, nil
}

func (s *scan) add(kind, id, why string) {
	s.rep.Leftovers = append(s.rep.Leftovers, Resource{Kind: kind, ID: id, Why: why})
}

// match says why a resource with these tags and name belongs to the cluster.
func (s *scan) match(tags map[string]string, name string) string {
	if tags[ClusterTag] == s.t.Cluster {
		return "tag " + ClusterTag
	}
	if name != "" && strings.HasPrefix(name, s.prefix) {
		return "name " + name
	}
	return ""
}

func ec2Tags(tags []ec2types.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func efsTags(tags []efstypes.Tag) map[string]string {
	m := map[string]string{}
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

func (s *scan) vpcsAndChildren(ctx context.Context) error {
	c := s.clients.ec2
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		return err
	}
	for _, v := range vpcs.Vpcs {
		s.rep.Scanned[sweep.KindVPC]++
		tags := ec2Tags(v.Tags)
		if why := s.match(tags, tags["Name"]); why != "" {
			s.vpcs[aws.ToString(v.VpcId)] = true
			s.add(sweep.KindVPC, aws.ToString(v.VpcId), why)
		}
	}
	inVPC := func(kind, id, vpc string, tags []ec2types.Tag) {
		s.rep.Scanned[kind]++
		m := ec2Tags(tags)
		if why := s.match(m, m["Name"]); why != "" {
			s.add(kind, id, why)
		} else if s.vpcs[vpc] {
			s.add(kind, id, "in cluster VPC "+vpc)
		}
	}
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err != nil {
		return err
	}
	for _, x := range subnets.Subnets {
		inVPC(sweep.KindSubnet, aws.ToString(x.SubnetId), aws.ToString(x.VpcId), x.Tags)
	}
	rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{})
	if err != nil {
		return err
	}
	for _, x := range rts.RouteTables {
		inVPC(sweep.KindRouteTable, aws.ToString(x.RouteTableId), aws.ToString(x.VpcId), x.Tags)
	}
	igws, err := c.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{})
	if err != nil {
		return err
	}
	for _, x := range igws.InternetGateways {
		vpc := ""
		if len(x.Attachments) > 0 {
			vpc = aws.ToString(x.Attachments[0].VpcId)
		}
		inVPC(sweep.KindInternetGateway, aws.ToString(x.InternetGatewayId), vpc, x.Tags)
	}
	nats, err := c.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{})
	if err != nil {
		return err
	}
	for _, x := range nats.NatGateways {
		if x.State == ec2types.NatGatewayStateDeleted || x.State == ec2types.NatGatewayStateDeleting {
			continue
		}
		inVPC(sweep.KindNATGateway, aws.ToString(x.NatGatewayId), aws.ToString(x.VpcId), x.Tags)
	}
	eips, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return err
	}
	for _, x := range eips.Addresses {
		inVPC(sweep.KindEIP, aws.ToString(x.AllocationId), "", x.Tags)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		return err
	}
	for _, x := range sgs.SecurityGroups {
		if aws.ToString(x.GroupName) == "default" && !s.vpcs[aws.ToString(x.VpcId)] {
			s.rep.Scanned[sweep.KindSecurityGroup]++
			continue
		}
		s.rep.Scanned[sweep.KindSecurityGroup]++
		m := ec2Tags(x.Tags)
		if why := s.match(m, aws.ToString(x.GroupName)); why != "" {
			s.add(sweep.KindSecurityGroup, aws.ToString(x.GroupId), why)
		} else if s.vpcs[aws.ToString(x.VpcId)] {
			s.add(sweep.KindSecurityGroup, aws.ToString(x.GroupId), "in cluster VPC")
		}
	}
	eps, err := c.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{})
	if err != nil {
		return err
	}
	for _, x := range eps.VpcEndpoints {
		if strings.EqualFold(string(x.State), string(ec2types.StateDeleted)) || strings.EqualFold(string(x.State), string(ec2types.StateDeleting)) {
			continue // AWS spells it Deleted, moto deleted
		}
		inVPC(sweep.KindVPCEndpoint, aws.ToString(x.VpcEndpointId), aws.ToString(x.VpcId), x.Tags)
	}
	enis, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{})
	if err != nil {
		return err
	}
	for _, x := range enis.NetworkInterfaces {
		id := aws.ToString(x.NetworkInterfaceId)
		s.rep.Scanned[sweep.KindENI]++
		m := ec2Tags(x.TagSet)
		switch {
		case s.match(m, m["Name"]) != "":
			s.add(sweep.KindENI, id, s.match(m, m["Name"]))
		case s.vpcs[aws.ToString(x.VpcId)]:
			s.add(sweep.KindENI, id, "in cluster VPC")
		case strings.Contains(aws.ToString(x.Description), s.t.Cluster):
			s.add(sweep.KindENI, id, "description "+aws.ToString(x.Description))
		}
	}
	return nil
}

func (s *scan) instances(ctx context.Context) error {
	p := ec2.NewDescribeInstancesPaginator(s.clients.ec2, &ec2.DescribeInstancesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, r := range out.Reservations {
			for _, x := range r.Instances {
				if x.State != nil && (x.State.Name == ec2types.InstanceStateNameTerminated || x.State.Name == ec2types.InstanceStateNameShuttingDown) {
					continue
				}
				s.rep.Scanned[sweep.KindInstance]++
				m := ec2Tags(x.Tags)
				if why := s.match(m, m["Name"]); why != "" {
					s.add(sweep.KindInstance, aws.ToString(x.InstanceId), why)
				} else if s.vpcs[aws.ToString(x.VpcId)] {
					s.add(sweep.KindInstance, aws.ToString(x.InstanceId), "in cluster VPC")
				} else if asg := m["aws:autoscaling:groupName"]; strings.HasPrefix(asg, s.prefix) {
					s.add(sweep.KindInstance, aws.ToString(x.InstanceId), "ASG "+asg)
				}
			}
		}
	}
	return nil
}

func (s *scan) launchTemplates(ctx context.Context) error {
	out, err := s.clients.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		return err
	}
	for _, x := range out.LaunchTemplates {
		s.rep.Scanned[sweep.KindLaunchTemplate]++
		if why := s.match(ec2Tags(x.Tags), aws.ToString(x.LaunchTemplateName)); why != "" {
			s.add(sweep.KindLaunchTemplate, aws.ToString(x.LaunchTemplateId), why)
		}
	}
	return nil
}

func (s *scan) volumes(ctx context.Context) error {
	out, err := s.clients.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil {
		return err
	}
	for _, x := range out.Volumes {
		s.rep.Scanned[sweep.KindVolume]++
		m := ec2Tags(x.Tags)
		if why := s.match(m, m["Name"]); why != "" {
			s.add(sweep.KindVolume, aws.ToString(x.VolumeId), why)
		}
	}
	return nil
}

func (s *scan) loadBalancers(ctx context.Context) error {
	c := elbv2.NewFromConfig(s.cfg)
	lbs, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		return err
	}
	for _, x := range lbs.LoadBalancers {
		s.rep.Scanned[sweep.KindLoadBalancer]++
		arn := aws.ToString(x.LoadBalancerArn)
		tags, err := s.elbTags(ctx, c, arn)
		if err != nil {
			return err
		}
		if why := s.match(tags, aws.ToString(x.LoadBalancerName)); why != "" {
			s.add(sweep.KindLoadBalancer, arn, why)
		} else if s.vpcs[aws.ToString(x.VpcId)] {
			s.add(sweep.KindLoadBalancer, arn, "in cluster VPC")
		}
	}
	tgs, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		return err
	}
	for _, x := range tgs.TargetGroups {
		s.rep.Scanned[sweep.KindTargetGroup]++
		arn := aws.ToString(x.TargetGroupArn)
		tags, err := s.elbTags(ctx, c, arn)
		if err != nil {
			return err
		}
		if why := s.match(tags, aws.ToString(x.TargetGroupName)); why != "" {
			s.add(sweep.KindTargetGroup, arn, why)
		} else if s.vpcs[aws.ToString(x.VpcId)] {
			s.add(sweep.KindTargetGroup, arn, "in cluster VPC")
		}
	}
	return nil
}

func (s *scan) elbTags(ctx context.Context, c *elbv2.Client, arn string) (map[string]string, error) {
	out, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	for _, d := range out.TagDescriptions {
		for _, t := range d.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return m, nil
}

func (s *scan) autoscalingGroups(ctx context.Context) error {
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(autoscaling.NewFromConfig(s.cfg), &autoscaling.DescribeAutoScalingGroupsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.AutoScalingGroups {
			s.rep.Scanned[sweep.KindASG]++
			m := map[string]string{}
			for _, t := range x.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if why := s.match(m, aws.ToString(x.AutoScalingGroupName)); why != "" {
				s.add(sweep.KindASG, aws.ToString(x.AutoScalingGroupName), why)
			}
		}
	}
	return nil
}

func (s *scan) efs(ctx context.Context) error {
	c := efs.NewFromConfig(s.cfg)
	fss, err := c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	if err != nil {
		return err
	}
	oursFS := map[string]bool{}
	for _, x := range fss.FileSystems {
		s.rep.Scanned[sweep.KindFileSystem]++
		id := aws.ToString(x.FileSystemId)
		ours := s.match(efsTags(x.Tags), aws.ToString(x.Name))
		if ours != "" {
			s.add(sweep.KindFileSystem, id, ours)
		}
		mts, err := c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: x.FileSystemId})
		if gone(err) {
			continue // deleted since the listing (another environment's teardown)
		}
		if err != nil {
			return err
		}
		for _, mt := range mts.MountTargets {
			s.rep.Scanned[sweep.KindMountTarget]++
			if ours != "" || s.vpcs[aws.ToString(mt.VpcId)] {
				s.add(sweep.KindMountTarget, aws.ToString(mt.MountTargetId), "of file system "+id)
			}
		}
		if ours != "" {
			oursFS[id] = true
		}
	}
	// Access points are listed for the whole account, not per file system:
	// the emulator deletes a file system that still has access points (AWS
	// refuses) and keeps them, so a down that left the EFS CSI driver's
	// access points behind shows here by their cluster tag.
	aps, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{})
	if err != nil {
		return err
	}
	for _, ap := range aps.AccessPoints {
		s.rep.Scanned[sweep.KindAccessPoint]++
		fs := aws.ToString(ap.FileSystemId)
		if oursFS[fs] {
			s.add(sweep.KindAccessPoint, aws.ToString(ap.AccessPointId), "of file system "+fs)
		} else if why := s.match(efsTags(ap.Tags), aws.ToString(ap.Name)); why != "" {
			s.add(sweep.KindAccessPoint, aws.ToString(ap.AccessPointId), why+" (file system "+fs+")")
		}
	}
	return nil
}

func (s *scan) buckets(ctx context.Context) error {
	c := s3.NewFromConfig(s.cfg, func(o *s3.Options) { o.UsePathStyle = s.t.Endpoint != "" })
	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return err
	}
	for _, b := range out.Buckets {
		name := aws.ToString(b.Name)
		s.rep.Scanned[sweep.KindBucket]++
		m := map[string]string{}
		if tg, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name}); err == nil {
			for _, t := range tg.TagSet {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		} // NoSuchTagSet: an untagged bucket
		why := s.match(m, name)
		if why != "" {
			s.add(sweep.KindBucket, name, why)
		}
		// Objects (every version) of the cluster's buckets, and objects
		// under a key naming the cluster in any other bucket except its
		// Terraform state, which outlives the cluster by design.
		p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: b.Name})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if gone(err) {
				break // deleted since the listing (another environment's teardown)
			}
			if err != nil {
				return fmt.Errorf("listing objects of %s: %w", name, err)
			}
			for _, v := range page.Versions {
				s.rep.Scanned[KindObject]++
				key := aws.ToString(v.Key)
				if why != "" {
					s.add(KindObject, name+"/"+key+"@"+aws.ToString(v.VersionId), "in cluster bucket")
				}
			}
		}
	}
	return nil
}

func (s *scan) iam(ctx context.Context) error {
	c := iam.NewFromConfig(s.cfg)
	roles := iam.NewListRolesPaginator(c, &iam.ListRolesInput{})
	for roles.HasMorePages() {
		out, err := roles.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, r := range out.Roles {
			s.rep.Scanned[sweep.KindRole]++
			tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: r.RoleName})
			if gone(err) {
				continue // deleted since the listing (another environment's teardown)
			}
			if err != nil {
				return err
			}
			m := map[string]string{}
			for _, t := range tags.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if why := s.match(m, aws.ToString(r.RoleName)); why != "" {
				s.add(sweep.KindRole, aws.ToString(r.RoleName), why)
			}
		}
	}
	pols := iam.NewListPoliciesPaginator(c, &iam.ListPoliciesInput{Scope: "Local"})
	for pols.HasMorePages() {
		out, err := pols.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, p := range out.Policies {
			s.rep.Scanned[sweep.KindPolicy]++
			tags, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: p.Arn})
			if gone(err) {
				continue // deleted since the listing (another environment's teardown)
			}
			if err != nil {
				return err
			}
			m := map[string]string{}
			for _, t := range tags.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if why := s.match(m, aws.ToString(p.PolicyName)); why != "" {
				s.add(sweep.KindPolicy, aws.ToString(p.Arn), why)
			}
		}
	}
	profiles := iam.NewListInstanceProfilesPaginator(c, &iam.ListInstanceProfilesInput{})
	for profiles.HasMorePages() {
		out, err := profiles.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, p := range out.InstanceProfiles {
			s.rep.Scanned[sweep.KindInstanceProfile]++
			m := map[string]string{}
			for _, t := range p.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if why := s.match(m, aws.ToString(p.InstanceProfileName)); why != "" {
				s.add(sweep.KindInstanceProfile, aws.ToString(p.InstanceProfileName), why)
			}
		}
	}
	return nil
}

func (s *scan) kms(ctx context.Context) error {
	c := kms.NewFromConfig(s.cfg)
	keys, err := c.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		return err
	}
	for _, k := range keys.Keys {
		s.rep.Scanned[sweep.KindKMSKey]++
		d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
		if gone(err) {
			continue // deleted since the listing (another environment's teardown)
		}
		if err != nil {
			return err
		}
		if st := d.KeyMetadata.KeyState; st == kmstypes.KeyStatePendingDeletion || st == kmstypes.KeyStatePendingReplicaDeletion {
			continue // what deleting a key means in KMS
		}
		tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
		if gone(err) {
			continue // deleted since the listing (another environment's teardown)
		}
		if err != nil {
			return err
		}
		m := map[string]string{}
		for _, t := range tags.Tags {
			m[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
		}
		if why := s.match(m, ""); why != "" {
			s.add(sweep.KindKMSKey, aws.ToString(k.KeyId), why)
		}
	}
	aliases, err := c.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		return err
	}
	for _, a := range aliases.Aliases {
		s.rep.Scanned[sweep.KindKMSAlias]++
		name := strings.TrimPrefix(aws.ToString(a.AliasName), "alias/")
		if strings.HasPrefix(name, s.prefix) {
			s.add(sweep.KindKMSAlias, aws.ToString(a.AliasName), "name")
		}
	}
	return nil
}

func (s *scan) route53(ctx context.Context) error {
	c := route53.NewFromConfig(s.cfg)
	zones, err := c.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
	if err != nil {
		return err
	}
	domain := strings.TrimSuffix(s.t.Domain, ".")
	for _, z := range zones.HostedZones {
		s.rep.Scanned[sweep.KindHostedZone]++
		id := strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
		name := strings.TrimSuffix(aws.ToString(z.Name), ".")
		tags, err := c.ListTagsForResource(ctx, &route53.ListTagsForResourceInput{ResourceId: aws.String(id), ResourceType: "hostedzone"})
		if gone(err) {
			continue // deleted since the listing (another environment's teardown)
		}
		if err != nil {
			return err
		}
		m := map[string]string{}
		if tags.ResourceTagSet != nil {
			for _, t := range tags.ResourceTagSet.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		}
		why := s.match(m, "")
		if why == "" && domain != "" && name == domain {
			why = "domain " + domain
		}
		recs, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: z.Id})
		if gone(err) {
			continue // deleted since the listing (another environment's teardown)
		}
		if err != nil {
			return err
		}
		for _, r := range recs.ResourceRecordSets {
			s.rep.Scanned[sweep.KindRecord]++
			rn := strings.TrimSuffix(aws.ToString(r.Name), ".")
			if why != "" || (domain != "" && (rn == domain || strings.HasSuffix(rn, "."+domain))) {
				s.add(sweep.KindRecord, id+" "+rn+" "+string(r.Type), "in zone "+name)
			}
		}
		if why != "" {
			s.add(sweep.KindHostedZone, id, why)
		}
	}
	return nil
}

// queues reads every queue's tags as well as its name: a queue is matched
// by either.
func (s *scan) queues(ctx context.Context) error {
	c := sqs.NewFromConfig(s.cfg)
	in := &sqs.ListQueuesInput{}
	for {
		out, err := c.ListQueues(ctx, in)
		if err != nil {
			return err
		}
		for _, url := range out.QueueUrls {
			s.rep.Scanned[sweep.KindQueue]++
			tags, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
			if gone(err) {
				continue // deleted since the listing (another environment's teardown)
			}
			if err != nil {
				return err
			}
			if why := s.match(tags.Tags, url[strings.LastIndex(url, "/")+1:]); why != "" {
				s.add(sweep.KindQueue, url, why)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// eventRules looks at the rules of the default event bus, by name and tags.
func (s *scan) eventRules(ctx context.Context) error {
	c := eventbridge.NewFromConfig(s.cfg)
	in := &eventbridge.ListRulesInput{}
	for {
		out, err := c.ListRules(ctx, in)
		if err != nil {
			return err
		}
		for _, r := range out.Rules {
			s.rep.Scanned[sweep.KindEventRule]++
			tags, err := c.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: r.Arn})
			if gone(err) {
				continue // deleted since the listing (another environment's teardown)
			}
			if err != nil {
				return err
			}
			m := map[string]string{}
			for _, t := range tags.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			if why := s.match(m, aws.ToString(r.Name)); why != "" {
				s.add(sweep.KindEventRule, aws.ToString(r.Name), why)
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// gone reports an error saying the resource no longer exists. The example
// environments are taken down side by side in one emulator, so a resource
// listed for one scan may be deleted by another environment's down before
// its tags or contents are read: it is then no leftover of anyone's.
func gone(err error) bool {
	var api smithy.APIError
	if !errors.As(err, &api) {
		return false
	}
	code := strings.ToLower(api.ErrorCode())
	return strings.Contains(code, "notfound") || strings.Contains(code, "nosuch") || strings.Contains(code, "nonexistent")
}
