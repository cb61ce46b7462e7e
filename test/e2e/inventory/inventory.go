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
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	autoscalingtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	eventbridgetypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	route53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
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

// note counts a resource of kind as scanned and records it under id when
// why, the reason it belongs to the cluster, is not empty. It returns why,
// for resources whose children belong to the cluster with them.
func (s *scan) note(kind, id, why string) string {
	s.rep.Scanned[kind]++
	if why != "" {
		s.add(kind, id, why)
	}
	return why
}

// consider is note with the reason match finds in the tags and name or,
// failing that, the first non-empty reason in also (its VPC, its
// description, ...).
func (s *scan) consider(kind, id string, tags map[string]string, name string, also ...string) string {
	return s.note(kind, id, cmp.Or(s.match(tags, name), cmp.Or(also...)))
}

// considerEC2 is consider for an EC2 resource, whose name is its Name tag.
func (s *scan) considerEC2(kind, id string, tags []ec2types.Tag, also ...string) string {
	m := tagMap(tags, ec2Tag)
	return s.consider(kind, id, m, m["Name"], also...)
}

// errDeleting is what a tag read for considerTagged returns for a resource
// that is on its way out and so counts as deleted.
var errDeleting = errors.New("being deleted")

// considerTagged is consider for a resource whose tags take a call of their
// own, which read makes. A resource deleted since the listing is counted
// but is no leftover of anyone's (see gone).
func (s *scan) considerTagged(kind, id, name string, read func() (map[string]string, error)) error {
	tags, err := read()
	if gone(err) || errors.Is(err, errDeleting) {
		s.rep.Scanned[kind]++
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s %s: %w", kind, id, err)
	}
	s.consider(kind, id, tags, name)
	return nil
}

// reasonIf is why when cond holds and "" otherwise: a reason for note or
// consider that only some resources have.
func reasonIf(cond bool, why string) string {
	if cond {
		return why
	}
	return ""
}

// inVPC is the reason a resource in vpc belongs to the cluster, if vpc does.
func (s *scan) inVPC(vpc string) string {
	return reasonIf(s.vpcs[vpc], "in cluster VPC")
}

// tagMap turns a tag slice into a map. Every AWS service has a Tag type of
// its own, so kv reads the key and value of one.
func tagMap[T any](tags []T, kv func(T) (key, value *string)) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		k, v := kv(t)
		m[aws.ToString(k)] = aws.ToString(v)
	}
	return m
}

// The key and value of each service's Tag type, for tagMap.
func ec2Tag(t ec2types.Tag) (*string, *string)                    { return t.Key, t.Value }
func efsTag(t efstypes.Tag) (*string, *string)                    { return t.Key, t.Value }
func elbTag(t elbv2types.Tag) (*string, *string)                  { return t.Key, t.Value }
func asgTag(t autoscalingtypes.TagDescription) (*string, *string) { return t.Key, t.Value }
func s3Tag(t s3types.Tag) (*string, *string)                      { return t.Key, t.Value }
func iamTag(t iamtypes.Tag) (*string, *string)                    { return t.Key, t.Value }
func kmsTag(t kmstypes.Tag) (*string, *string)                    { return t.TagKey, t.TagValue }
func route53Tag(t route53types.Tag) (*string, *string)            { return t.Key, t.Value }
func eventsTag(t eventbridgetypes.Tag) (*string, *string)         { return t.Key, t.Value }

// pager is what the SDK's paginators have in common.
type pager[Out, Opts any] interface {
	HasMorePages() bool
	NextPage(context.Context, ...func(*Opts)) (Out, error)
}

// collect returns the items of every page of p; items picks them from a
// page.
func collect[Out, Opts, Item any](ctx context.Context, p pager[Out, Opts], items func(Out) []Item) ([]Item, error) {
	var all []Item
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		all = append(all, items(out)...)
	}
	return all, nil
}

func (s *scan) vpcsAndChildren(ctx context.Context) error {
	c := s.clients.ec2
	vpcs, err := c.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		return fmt.Errorf("listing VPCs: %w", err)
	}
	for _, v := range vpcs.Vpcs {
		id := aws.ToString(v.VpcId)
		if s.considerEC2(sweep.KindVPC, id, v.Tags) != "" {
			s.vpcs[id] = true
		}
	}
	// child considers a resource that also belongs to the cluster by its VPC.
	child := func(kind, id, vpc string, tags []ec2types.Tag) {
		s.considerEC2(kind, id, tags, reasonIf(s.vpcs[vpc], "in cluster VPC "+vpc))
	}
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err != nil {
		return fmt.Errorf("listing subnets: %w", err)
	}
	for _, x := range subnets.Subnets {
		child(sweep.KindSubnet, aws.ToString(x.SubnetId), aws.ToString(x.VpcId), x.Tags)
	}
	rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{})
	if err != nil {
		return fmt.Errorf("listing route tables: %w", err)
	}
	for _, x := range rts.RouteTables {
		child(sweep.KindRouteTable, aws.ToString(x.RouteTableId), aws.ToString(x.VpcId), x.Tags)
	}
	igws, err := c.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{})
	if err != nil {
		return fmt.Errorf("listing internet gateways: %w", err)
	}
	for _, x := range igws.InternetGateways {
		vpc := ""
		if len(x.Attachments) > 0 {
			vpc = aws.ToString(x.Attachments[0].VpcId)
		}
		child(sweep.KindInternetGateway, aws.ToString(x.InternetGatewayId), vpc, x.Tags)
	}
	nats, err := c.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{})
	if err != nil {
		return fmt.Errorf("listing NAT gateways: %w", err)
	}
	for _, x := range nats.NatGateways {
		if x.State == ec2types.NatGatewayStateDeleted || x.State == ec2types.NatGatewayStateDeleting {
			continue
		}
		child(sweep.KindNATGateway, aws.ToString(x.NatGatewayId), aws.ToString(x.VpcId), x.Tags)
	}
	eips, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return fmt.Errorf("listing elastic IPs: %w", err)
	}
	for _, x := range eips.Addresses {
		child(sweep.KindEIP, aws.ToString(x.AllocationId), "", x.Tags)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		return fmt.Errorf("listing security groups: %w", err)
	}
	for _, x := range sgs.SecurityGroups {
		name, vpc := aws.ToString(x.GroupName), aws.ToString(x.VpcId)
		if name == "default" && !s.vpcs[vpc] {
			s.rep.Scanned[sweep.KindSecurityGroup]++
			continue
		}
		s.consider(sweep.KindSecurityGroup, aws.ToString(x.GroupId), tagMap(x.Tags, ec2Tag), name, s.inVPC(vpc))
	}
	eps, err := c.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{})
	if err != nil {
		return fmt.Errorf("listing VPC endpoints: %w", err)
	}
	for _, x := range eps.VpcEndpoints {
		if strings.EqualFold(string(x.State), string(ec2types.StateDeleted)) || strings.EqualFold(string(x.State), string(ec2types.StateDeleting)) {
			continue // AWS spells it Deleted, moto deleted
		}
		child(sweep.KindVPCEndpoint, aws.ToString(x.VpcEndpointId), aws.ToString(x.VpcId), x.Tags)
	}
	enis, err := c.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{})
	if err != nil {
		return fmt.Errorf("listing network interfaces: %w", err)
	}
	for _, x := range enis.NetworkInterfaces {
		desc := aws.ToString(x.Description)
		s.considerEC2(sweep.KindENI, aws.ToString(x.NetworkInterfaceId), x.TagSet,
			s.inVPC(aws.ToString(x.VpcId)),
			reasonIf(strings.Contains(desc, s.t.Cluster), "description "+desc))
	}
	return nil
}

func (s *scan) instances(ctx context.Context) error {
	p := ec2.NewDescribeInstancesPaginator(s.clients.ec2, &ec2.DescribeInstancesInput{})
	rs, err := collect(ctx, p, func(o *ec2.DescribeInstancesOutput) []ec2types.Reservation { return o.Reservations })
	if err != nil {
		return fmt.Errorf("listing instances: %w", err)
	}
	for _, r := range rs {
		for _, x := range r.Instances {
			if x.State != nil && (x.State.Name == ec2types.InstanceStateNameTerminated || x.State.Name == ec2types.InstanceStateNameShuttingDown) {
				continue
			}
			m := tagMap(x.Tags, ec2Tag)
			asg := m["aws:autoscaling:groupName"]
			s.consider(sweep.KindInstance, aws.ToString(x.InstanceId), m, m["Name"],
				s.inVPC(aws.ToString(x.VpcId)),
				reasonIf(strings.HasPrefix(asg, s.prefix), "ASG "+asg))
		}
	}
	return nil
}

func (s *scan) launchTemplates(ctx context.Context) error {
	out, err := s.clients.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		return fmt.Errorf("listing launch templates: %w", err)
	}
	for _, x := range out.LaunchTemplates {
		s.consider(sweep.KindLaunchTemplate, aws.ToString(x.LaunchTemplateId), tagMap(x.Tags, ec2Tag), aws.ToString(x.LaunchTemplateName))
	}
	return nil
}

func (s *scan) volumes(ctx context.Context) error {
	out, err := s.clients.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil {
		return fmt.Errorf("listing volumes: %w", err)
	}
	for _, x := range out.Volumes {
		s.considerEC2(sweep.KindVolume, aws.ToString(x.VolumeId), x.Tags)
	}
	return nil
}

func (s *scan) loadBalancers(ctx context.Context) error {
	c := elbv2.NewFromConfig(s.cfg)
	lbs, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		return fmt.Errorf("listing load balancers: %w", err)
	}
	tgs, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		return fmt.Errorf("listing target groups: %w", err)
	}
	// Load balancers and target groups are matched alike; their tags take a
	// call of their own.
	type elb struct{ kind, arn, name, vpc string }
	var all []elb
	for _, x := range lbs.LoadBalancers {
		all = append(all, elb{sweep.KindLoadBalancer, aws.ToString(x.LoadBalancerArn), aws.ToString(x.LoadBalancerName), aws.ToString(x.VpcId)})
	}
	for _, x := range tgs.TargetGroups {
		all = append(all, elb{sweep.KindTargetGroup, aws.ToString(x.TargetGroupArn), aws.ToString(x.TargetGroupName), aws.ToString(x.VpcId)})
	}
	for _, x := range all {
		out, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{x.arn}})
		if gone(err) {
			// Deleted since the listing (another environment's down).
			s.rep.Scanned[x.kind]++
			continue
		}
		if err != nil {
			return fmt.Errorf("reading tags of %s %s: %w", x.kind, x.arn, err)
		}
		tags := map[string]string{}
		for _, d := range out.TagDescriptions {
			maps.Copy(tags, tagMap(d.Tags, elbTag))
		}
		s.consider(x.kind, x.arn, tags, x.name, s.inVPC(x.vpc))
	}
	return nil
}

func (s *scan) autoscalingGroups(ctx context.Context) error {
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(autoscaling.NewFromConfig(s.cfg), &autoscaling.DescribeAutoScalingGroupsInput{})
	groups, err := collect(ctx, p, func(o *autoscaling.DescribeAutoScalingGroupsOutput) []autoscalingtypes.AutoScalingGroup {
		return o.AutoScalingGroups
	})
	if err != nil {
		return fmt.Errorf("listing auto scaling groups: %w", err)
	}
	for _, x := range groups {
		name := aws.ToString(x.AutoScalingGroupName)
		s.consider(sweep.KindASG, name, tagMap(x.Tags, asgTag), name)
	}
	return nil
}

func (s *scan) efs(ctx context.Context) error {
	c := efs.NewFromConfig(s.cfg)
	fss, err := c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	if err != nil {
		return fmt.Errorf("listing file systems: %w", err)
	}
	oursFS := map[string]bool{}
	for _, x := range fss.FileSystems {
		id := aws.ToString(x.FileSystemId)
		ours := s.consider(sweep.KindFileSystem, id, tagMap(x.Tags, efsTag), aws.ToString(x.Name)) != ""
		mts, err := c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: x.FileSystemId})
		if gone(err) {
			continue // deleted since the listing (another environment's teardown)
		}
		if err != nil {
			return fmt.Errorf("listing mount targets of %s: %w", id, err)
		}
		for _, mt := range mts.MountTargets {
			s.note(sweep.KindMountTarget, aws.ToString(mt.MountTargetId), reasonIf(ours || s.vpcs[aws.ToString(mt.VpcId)], "of file system "+id))
		}
		oursFS[id] = ours
	}
	// Access points are listed for the whole account, not per file system:
	// the emulator deletes a file system that still has access points (AWS
	// refuses) and keeps them, so a down that left the EFS CSI driver's
	// access points behind shows here by their cluster tag.
	aps, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{})
	if err != nil {
		return fmt.Errorf("listing access points: %w", err)
	}
	for _, ap := range aps.AccessPoints {
		fs := aws.ToString(ap.FileSystemId)
		why := s.match(tagMap(ap.Tags, efsTag), aws.ToString(ap.Name))
		if why != "" {
			why += " (file system " + fs + ")"
		}
		s.note(sweep.KindAccessPoint, aws.ToString(ap.AccessPointId), cmp.Or(reasonIf(oursFS[fs], "of file system "+fs), why))
	}
	return nil
}

func (s *scan) buckets(ctx context.Context) error {
	c := s3.NewFromConfig(s.cfg, func(o *s3.Options) { o.UsePathStyle = s.t.Endpoint != "" })
	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return fmt.Errorf("listing buckets: %w", err)
	}
	for _, b := range out.Buckets {
		name := aws.ToString(b.Name)
		var tags map[string]string
		if tg, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name}); err == nil {
			tags = tagMap(tg.TagSet, s3Tag)
		} // NoSuchTagSet: an untagged bucket
		ours := s.consider(sweep.KindBucket, name, tags, name) != ""
		// Object versions are counted in every bucket and are leftovers in
		// the cluster's own; objects under a key naming the cluster in other
		// buckets are not looked for.
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
				s.note(KindObject, name+"/"+aws.ToString(v.Key)+"@"+aws.ToString(v.VersionId), reasonIf(ours, "in cluster bucket"))
			}
		}
	}
	return nil
}

func (s *scan) iam(ctx context.Context) error {
	c := iam.NewFromConfig(s.cfg)
	roles, err := collect(ctx, iam.NewListRolesPaginator(c, &iam.ListRolesInput{}), func(o *iam.ListRolesOutput) []iamtypes.Role { return o.Roles })
	if err != nil {
		return fmt.Errorf("listing roles: %w", err)
	}
	for _, r := range roles {
		name := aws.ToString(r.RoleName)
		err := s.considerTagged(sweep.KindRole, name, name, func() (map[string]string, error) {
			out, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: r.RoleName})
			if err != nil {
				return nil, err
			}
			return tagMap(out.Tags, iamTag), nil
		})
		if err != nil {
			return err
		}
	}
	pols, err := collect(ctx, iam.NewListPoliciesPaginator(c, &iam.ListPoliciesInput{Scope: "Local"}), func(o *iam.ListPoliciesOutput) []iamtypes.Policy { return o.Policies })
	if err != nil {
		return fmt.Errorf("listing policies: %w", err)
	}
	for _, p := range pols {
		err := s.considerTagged(sweep.KindPolicy, aws.ToString(p.Arn), aws.ToString(p.PolicyName), func() (map[string]string, error) {
			out, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: p.Arn})
			if err != nil {
				return nil, err
			}
			return tagMap(out.Tags, iamTag), nil
		})
		if err != nil {
			return err
		}
	}
	profiles, err := collect(ctx, iam.NewListInstanceProfilesPaginator(c, &iam.ListInstanceProfilesInput{}), func(o *iam.ListInstanceProfilesOutput) []iamtypes.InstanceProfile {
		return o.InstanceProfiles
	})
	if err != nil {
		return fmt.Errorf("listing instance profiles: %w", err)
	}
	for _, p := range profiles {
		name := aws.ToString(p.InstanceProfileName)
		s.consider(sweep.KindInstanceProfile, name, tagMap(p.Tags, iamTag), name)
	}
	return nil
}

func (s *scan) kms(ctx context.Context) error {
	c := kms.NewFromConfig(s.cfg)
	keys, err := c.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		return fmt.Errorf("listing keys: %w", err)
	}
	for _, k := range keys.Keys {
		err := s.considerTagged(sweep.KindKMSKey, aws.ToString(k.KeyId), "", func() (map[string]string, error) {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				return nil, err
			}
			if st := d.KeyMetadata.KeyState; st == kmstypes.KeyStatePendingDeletion || st == kmstypes.KeyStatePendingReplicaDeletion {
				return nil, errDeleting // what deleting a key means in KMS
			}
			out, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
			if err != nil {
				return nil, err
			}
			return tagMap(out.Tags, kmsTag), nil
		})
		if err != nil {
			return err
		}
	}
	aliases, err := c.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		return fmt.Errorf("listing aliases: %w", err)
	}
	for _, a := range aliases.Aliases {
		alias := aws.ToString(a.AliasName)
		s.note(sweep.KindKMSAlias, alias, reasonIf(strings.HasPrefix(strings.TrimPrefix(alias, "alias/"), s.prefix), "name"))
	}
	return nil
}

func (s *scan) route53(ctx context.Context) error {
	c := route53.NewFromConfig(s.cfg)
	zones, err := c.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
	if err != nil {
		return fmt.Errorf("listing hosted zones: %w", err)
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
			return fmt.Errorf("reading tags of hosted zone %s: %w", id, err)
		}
		var m map[string]string
		if tags.ResourceTagSet != nil {
			m = tagMap(tags.ResourceTagSet.Tags, route53Tag)
		}
		why := cmp.Or(s.match(m, ""), reasonIf(domain != "" && name == domain, "domain "+domain))
		recs, err := c.ListResourceRecordSets(ctx, &route53.ListResourceRecordSetsInput{HostedZoneId: z.Id})
		if gone(err) {
			continue // deleted since the listing (another environment's teardown)
		}
		if err != nil {
			return fmt.Errorf("listing records of hosted zone %s: %w", id, err)
		}
		for _, r := range recs.ResourceRecordSets {
			rn := strings.TrimSuffix(aws.ToString(r.Name), ".")
			inDomain := domain != "" && (rn == domain || strings.HasSuffix(rn, "."+domain))
			s.note(sweep.KindRecord, id+" "+rn+" "+string(r.Type), reasonIf(why != "" || inDomain, "in zone "+name))
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
	urls, err := collect(ctx, sqs.NewListQueuesPaginator(c, &sqs.ListQueuesInput{}), func(o *sqs.ListQueuesOutput) []string { return o.QueueUrls })
	if err != nil {
		return fmt.Errorf("listing queues: %w", err)
	}
	for _, url := range urls {
		err := s.considerTagged(sweep.KindQueue, url, url[strings.LastIndex(url, "/")+1:], func() (map[string]string, error) {
			out, err := c.ListQueueTags(ctx, &sqs.ListQueueTagsInput{QueueUrl: aws.String(url)})
			if err != nil {
				return nil, err
			}
			return out.Tags, nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// eventRules looks at the rules of the default event bus, by name and tags.
func (s *scan) eventRules(ctx context.Context) error {
	c := eventbridge.NewFromConfig(s.cfg)
	var rules []eventbridgetypes.Rule
	in := &eventbridge.ListRulesInput{}
	for { // the SDK has no paginator for ListRules
		out, err := c.ListRules(ctx, in)
		if err != nil {
			return fmt.Errorf("listing rules: %w", err)
		}
		rules = append(rules, out.Rules...)
		if aws.ToString(out.NextToken) == "" {
			break
		}
		in.NextToken = out.NextToken
	}
	for _, r := range rules {
		name := aws.ToString(r.Name)
		err := s.considerTagged(sweep.KindEventRule, name, name, func() (map[string]string, error) {
			out, err := c.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: r.Arn})
			if err != nil {
				return nil, err
			}
			return tagMap(out.Tags, eventsTag), nil
		})
		if err != nil {
			return err
		}
	}
	return nil
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
