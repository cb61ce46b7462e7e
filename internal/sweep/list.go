// Package sweep finds, through the AWS API, the resources that belong to a
// kforge cluster and deletes them in dependency order. The cluster tag
// (kforge.io/cluster=<name>, set by the provider's default_tags) is the
// source of truth, as in kOps; kinds that AWS or the emulator list without
// tags are matched by a name starting with "<cluster>-" or by living in a
// VPC of the cluster.
//
// kforge uses it twice: before planning, to remove what a killed apply
// created but never recorded in the Terraform state (orphans), so that a
// re-run converges; and after `terraform destroy`, to remove what the state
// never held (instances of an ASG, their volumes and network interfaces).
package sweep

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// ClusterTag is the tag key every kforge resource carries.
const ClusterTag = "kforge.io/cluster"

// Resource kinds, in the order Delete removes them.
const (
	KindASG             = "autoscaling:group"
	KindInstance        = "ec2:instance"
	KindLoadBalancer    = "elbv2:load-balancer"
	KindTargetGroup     = "elbv2:target-group"
	KindLaunchTemplate  = "ec2:launch-template"
	KindAccessPoint     = "efs:access-point"
	KindMountTarget     = "efs:mount-target"
	KindFileSystem      = "efs:file-system"
	KindNATGateway      = "ec2:nat-gateway"
	KindEIP             = "ec2:eip"
	KindENI             = "ec2:network-interface"
	KindVolume          = "ec2:volume"
	KindVPCEndpoint     = "ec2:vpc-endpoint"
	KindSubnet          = "ec2:subnet"
	KindRouteTable      = "ec2:route-table"
	KindInternetGateway = "ec2:internet-gateway"
	KindSecurityGroup   = "ec2:security-group"
	KindVPC             = "ec2:vpc"
	KindInstanceProfile = "iam:instance-profile"
	KindRole            = "iam:role"
	KindPolicy          = "iam:policy"
	KindBucket          = "s3:bucket"
	KindKMSAlias        = "kms:alias"
	KindKMSKey          = "kms:key"
	KindRecord          = "route53:record"
	KindHostedZone      = "route53:hosted-zone"
)

// Order is the deletion order of the kinds: dependents first.
var Order = []string{
	KindASG, KindInstance, KindLoadBalancer, KindTargetGroup, KindLaunchTemplate,
	KindAccessPoint, KindMountTarget, KindFileSystem, KindNATGateway, KindEIP,
	KindENI, KindVolume, KindVPCEndpoint, KindSubnet, KindRouteTable,
	KindInternetGateway, KindSecurityGroup, KindVPC, KindInstanceProfile,
	KindRole, KindPolicy, KindBucket, KindKMSAlias, KindKMSKey, KindRecord,
	KindHostedZone,
}

// Resource is one AWS resource of a cluster.
type Resource struct {
	Kind string `json:"kind"`
	// ID is what the delete call takes (and what Terraform's id attribute
	// holds for most kinds): vpc-..., a role name, a bucket name, a zone id.
	ID   string `json:"id"`
	ARN  string `json:"arn,omitempty"`
	Name string `json:"name,omitempty"`
	// Parent is the resource this one lives in or was made by: the VPC of
	// a subnet, the ASG of an instance, the owner of an ENI (instance,
	// load balancer ARN or file system), the zone of a record.
	Parent string `json:"parent,omitempty"`
	// Why says how it was matched: the tag, its name, its VPC.
	Why string `json:"why,omitempty"`
}

func (r Resource) String() string {
	s := r.Kind + " " + r.ID
	if r.Name != "" && r.Name != r.ID {
		s += " (" + r.Name + ")"
	}
	return s
}

// Target names the cluster whose resources to find.
type Target struct {
	// Cluster is the cluster name (tag value, name prefix).
	Cluster string
	// Endpoint is an emulator endpoint (S3 path style); empty on AWS.
	Endpoint string
	// KeepBuckets are never listed (the Terraform state bucket).
	KeepBuckets []string
	// RecordNames are the record names Terraform manages in the cluster's
	// zones (the domain, *.domain, api.domain): such a record missing from
	// the state is an orphan (it would make the next create fail). Records
	// with other names are run-time children of their zone, listed with
	// the zone as Parent.
	RecordNames []string
}

// List returns every resource of the kinds kforge's modules create that
// belongs to t's cluster, sorted by deletion order.
func List(ctx context.Context, cfg aws.Config, t Target) ([]Resource, error) {
	if strings.TrimSpace(t.Cluster) == "" {
		return nil, fmt.Errorf("sweep: empty cluster name")
	}
	l := &lister{t: t, cfg: cfg, ec2: ec2.NewFromConfig(cfg), vpcs: map[string]bool{}}
	steps := []struct {
		name string
		fn   func(context.Context) error
	}{
		{"VPCs", l.vpcsAndChildren}, // first: later steps match by VPC
		{"load balancers", l.loadBalancers},
		{"EFS", l.efs}, // before ENIs: their owners
		{"instances", l.instances},
		{"network interfaces and volumes", l.enisAndVolumes},
		{"launch templates", l.launchTemplates},
		{"auto scaling groups", l.autoscalingGroups},
		{"S3", l.buckets},
		{"IAM", l.iam},
		{"KMS", l.kms},
		{"Route 53", l.route53},
	}
	for _, st := range steps {
		if err := st.fn(ctx); err != nil {
			return nil, fmt.Errorf("listing %s of cluster %s: %w", st.name, t.Cluster, err)
		}
	}
	sortByOrder(l.out)
	return l.out, nil
}

func sortByOrder(rs []Resource) {
	rank := map[string]int{}
	for i, k := range Order {
		rank[k] = i
	}
	sort.SliceStable(rs, func(i, j int) bool {
		if rank[rs[i].Kind] != rank[rs[j].Kind] {
			return rank[rs[i].Kind] < rank[rs[j].Kind]
		}
		return rs[i].ID < rs[j].ID
	})
}

type lister struct {
	t    Target
	cfg  aws.Config
	ec2  *ec2.Client
	vpcs map[string]bool // VPC ids of the cluster
	lbs  map[string]string
	fss  map[string]bool
	out  []Resource
}

func (l *lister) add(r Resource) { l.out = append(l.out, r) }

// match says why a resource with these tags and name belongs to the cluster,
// or "" when it does not. A name must be the cluster name or start with
// "<cluster>-": "kforge-local" must not match "kforge-local2-...".
func (l *lister) match(tags map[string]string, name string) string {
	if tags[ClusterTag] == l.t.Cluster {
		return "tag " + ClusterTag
	}
	if name != "" && (name == l.t.Cluster || strings.HasPrefix(name, l.t.Cluster+"-")) {
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

// goneState reports the states in which a resource is as good as deleted;
// AWS spells them Deleted, moto deleted.
func goneState(state string) bool {
	switch strings.ToLower(state) {
	case "deleted", "deleting", "terminated", "shutting-down", "failed", "rejected", "expired":
		return true
	}
	return false
}

func (l *lister) vpcsAndChildren(ctx context.Context) error {
	c := l.ec2
	vp := ec2.NewDescribeVpcsPaginator(c, &ec2.DescribeVpcsInput{})
	for vp.HasMorePages() {
		out, err := vp.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, v := range out.Vpcs {
			tags := ec2Tags(v.Tags)
			if why := l.match(tags, tags["Name"]); why != "" {
				id := aws.ToString(v.VpcId)
				l.vpcs[id] = true
				l.add(Resource{Kind: KindVPC, ID: id, Name: tags["Name"], Why: why})
			}
		}
	}
	inVPC := func(kind, id, vpc string, tags []ec2types.Tag) {
		m := ec2Tags(tags)
		if why := l.match(m, m["Name"]); why != "" {
			l.add(Resource{Kind: kind, ID: id, Name: m["Name"], Parent: vpc, Why: why})
		} else if l.vpcs[vpc] {
			l.add(Resource{Kind: kind, ID: id, Name: m["Name"], Parent: vpc, Why: "in cluster VPC " + vpc})
		}
	}
	subnets, err := c.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{})
	if err != nil {
		return err
	}
	for _, x := range subnets.Subnets {
		inVPC(KindSubnet, aws.ToString(x.SubnetId), aws.ToString(x.VpcId), x.Tags)
	}
	rts, err := c.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{})
	if err != nil {
		return err
	}
	for _, x := range rts.RouteTables {
		main := false
		for _, a := range x.Associations {
			main = main || aws.ToBool(a.Main)
		}
		if main {
			continue // the VPC's main table goes with the VPC
		}
		inVPC(KindRouteTable, aws.ToString(x.RouteTableId), aws.ToString(x.VpcId), x.Tags)
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
		inVPC(KindInternetGateway, aws.ToString(x.InternetGatewayId), vpc, x.Tags)
	}
	nats, err := c.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{})
	if err != nil {
		return err
	}
	for _, x := range nats.NatGateways {
		if goneState(string(x.State)) {
			continue
		}
		inVPC(KindNATGateway, aws.ToString(x.NatGatewayId), aws.ToString(x.VpcId), x.Tags)
	}
	eips, err := c.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{})
	if err != nil {
		return err
	}
	for _, x := range eips.Addresses {
		inVPC(KindEIP, aws.ToString(x.AllocationId), "", x.Tags)
	}
	sgs, err := c.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{})
	if err != nil {
		return err
	}
	for _, x := range sgs.SecurityGroups {
		if aws.ToString(x.GroupName) == "default" {
			continue // every VPC's own group goes with the VPC
		}
		m := ec2Tags(x.Tags)
		id, vpc := aws.ToString(x.GroupId), aws.ToString(x.VpcId)
		if why := l.match(m, aws.ToString(x.GroupName)); why != "" {
			l.add(Resource{Kind: KindSecurityGroup, ID: id, Name: aws.ToString(x.GroupName), Parent: vpc, Why: why})
		} else if l.vpcs[vpc] {
			l.add(Resource{Kind: KindSecurityGroup, ID: id, Name: aws.ToString(x.GroupName), Parent: vpc, Why: "in cluster VPC " + vpc})
		}
	}
	eps, err := c.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{})
	if err != nil {
		return err
	}
	for _, x := range eps.VpcEndpoints {
		if goneState(string(x.State)) {
			continue
		}
		inVPC(KindVPCEndpoint, aws.ToString(x.VpcEndpointId), aws.ToString(x.VpcId), x.Tags)
	}
	return nil
}

func (l *lister) loadBalancers(ctx context.Context) error {
	c := elbv2.NewFromConfig(l.cfg)
	l.lbs = map[string]string{}
	lbs, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		return err
	}
	for _, x := range lbs.LoadBalancers {
		arn := aws.ToString(x.LoadBalancerArn)
		tags, err := elbTags(ctx, c, arn)
		if err != nil {
			return err
		}
		why := l.match(tags, aws.ToString(x.LoadBalancerName))
		if why == "" && l.vpcs[aws.ToString(x.VpcId)] {
			why = "in cluster VPC " + aws.ToString(x.VpcId)
		}
		if why != "" {
			l.add(Resource{Kind: KindLoadBalancer, ID: arn, ARN: arn, Name: aws.ToString(x.LoadBalancerName), Parent: aws.ToString(x.VpcId), Why: why})
			// ENI descriptions name the balancer as "ELB net/<name>/<id>".
			if i := strings.Index(arn, ":loadbalancer/"); i >= 0 {
				l.lbs["ELB "+arn[i+len(":loadbalancer/"):]] = arn
			}
		}
	}
	tgs, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		return err
	}
	for _, x := range tgs.TargetGroups {
		arn := aws.ToString(x.TargetGroupArn)
		tags, err := elbTags(ctx, c, arn)
		if err != nil {
			return err
		}
		why := l.match(tags, aws.ToString(x.TargetGroupName))
		if why == "" && l.vpcs[aws.ToString(x.VpcId)] {
			why = "in cluster VPC " + aws.ToString(x.VpcId)
		}
		if why != "" {
			l.add(Resource{Kind: KindTargetGroup, ID: arn, ARN: arn, Name: aws.ToString(x.TargetGroupName), Parent: aws.ToString(x.VpcId), Why: why})
		}
	}
	return nil
}

func elbTags(ctx context.Context, c *elbv2.Client, arn string) (map[string]string, error) {
	out, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", arn, err)
	}
	m := map[string]string{}
	for _, d := range out.TagDescriptions {
		for _, t := range d.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return m, nil
}

func (l *lister) efs(ctx context.Context) error {
	c := efs.NewFromConfig(l.cfg)
	l.fss = map[string]bool{}
	fss, err := c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	if err != nil {
		return err
	}
	for _, x := range fss.FileSystems {
		id := aws.ToString(x.FileSystemId)
		m := map[string]string{}
		for _, t := range x.Tags {
			m[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		ours := l.match(m, aws.ToString(x.Name))
		mts, err := c.DescribeMountTargets(ctx, &efs.DescribeMountTargetsInput{FileSystemId: x.FileSystemId})
		if err != nil {
			return err
		}
		for _, mt := range mts.MountTargets {
			if ours == "" && !l.vpcs[aws.ToString(mt.VpcId)] {
				continue
			}
			if ours == "" {
				ours = "mount target in cluster VPC " + aws.ToString(mt.VpcId)
			}
			l.add(Resource{Kind: KindMountTarget, ID: aws.ToString(mt.MountTargetId), Parent: id, Why: "of file system " + id})
		}
		if ours == "" {
			continue
		}
		l.fss[id] = true
		l.add(Resource{Kind: KindFileSystem, ID: id, ARN: aws.ToString(x.FileSystemArn), Name: aws.ToString(x.Name), Why: ours})
		aps, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{FileSystemId: x.FileSystemId})
		if err != nil {
			return err
		}
		for _, ap := range aps.AccessPoints {
			l.add(Resource{Kind: KindAccessPoint, ID: aws.ToString(ap.AccessPointId), ARN: aws.ToString(ap.AccessPointArn), Parent: id, Why: "of file system " + id})
		}
	}
	return nil
}

func (l *lister) instances(ctx context.Context) error {
	p := ec2.NewDescribeInstancesPaginator(l.ec2, &ec2.DescribeInstancesInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, r := range out.Reservations {
			for _, x := range r.Instances {
				if x.State != nil && goneState(string(x.State.Name)) {
					continue
				}
				m := ec2Tags(x.Tags)
				asg := m["aws:autoscaling:groupName"]
				why := l.match(m, m["Name"])
				if why == "" && l.vpcs[aws.ToString(x.VpcId)] {
					why = "in cluster VPC " + aws.ToString(x.VpcId)
				}
				if why == "" && l.match(nil, asg) != "" {
					why = "of ASG " + asg
				}
				if why != "" {
					l.add(Resource{Kind: KindInstance, ID: aws.ToString(x.InstanceId), Name: m["Name"], Parent: asg, Why: why})
				}
			}
		}
	}
	return nil
}

func (l *lister) enisAndVolumes(ctx context.Context) error {
	ours := map[string]bool{}
	for _, r := range l.out {
		if r.Kind == KindInstance {
			ours[r.ID] = true
		}
	}
	enis, err := l.ec2.DescribeNetworkInterfaces(ctx, &ec2.DescribeNetworkInterfacesInput{})
	if err != nil {
		return err
	}
	for _, x := range enis.NetworkInterfaces {
		id, desc := aws.ToString(x.NetworkInterfaceId), aws.ToString(x.Description)
		parent := ""
		if x.Attachment != nil && aws.ToString(x.Attachment.InstanceId) != "" {
			parent = aws.ToString(x.Attachment.InstanceId)
		}
		for prefix, arn := range l.lbs {
			if strings.HasPrefix(desc, prefix) {
				parent = arn
			}
		}
		for fs := range l.fss {
			if strings.Contains(desc, fs) {
				parent = fs
			}
		}
		if parent == "" && (x.Attachment != nil || strings.EqualFold(string(x.Status), "in-use")) {
			// Attached to something AWS manages: it goes with its owner.
			parent = "attached:" + id
		}
		m := ec2Tags(x.TagSet)
		why := l.match(m, m["Name"])
		switch {
		case why != "":
		case l.vpcs[aws.ToString(x.VpcId)]:
			why = "in cluster VPC " + aws.ToString(x.VpcId)
		case ours[parent] || l.fss[parent] || strings.HasPrefix(parent, "arn:"):
			why = "of " + parent
		default:
			continue
		}
		l.add(Resource{Kind: KindENI, ID: id, Name: desc, Parent: parent, Why: why})
	}
	vols, err := l.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{})
	if err != nil {
		return err
	}
	for _, x := range vols.Volumes {
		m := ec2Tags(x.Tags)
		parent := ""
		for _, a := range x.Attachments {
			parent = aws.ToString(a.InstanceId)
		}
		why := l.match(m, m["Name"])
		if why == "" && ours[parent] && !aws.ToBool(firstDeleteOnTermination(x.Attachments)) {
			why = "attached to " + parent
		}
		// Tags the EBS CSI driver puts on the volumes it creates.
		if why == "" && m["KubernetesCluster"] == l.t.Cluster {
			why = "tag KubernetesCluster"
		}
		if why != "" {
			l.add(Resource{Kind: KindVolume, ID: aws.ToString(x.VolumeId), Name: m["Name"], Parent: parent, Why: why})
		}
	}
	return nil
}

func firstDeleteOnTermination(as []ec2types.VolumeAttachment) *bool {
	for _, a := range as {
		return a.DeleteOnTermination
	}
	return aws.Bool(false)
}

func (l *lister) launchTemplates(ctx context.Context) error {
	out, err := l.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{})
	if err != nil {
		return err
	}
	for _, x := range out.LaunchTemplates {
		name := aws.ToString(x.LaunchTemplateName)
		if why := l.match(ec2Tags(x.Tags), name); why != "" {
			l.add(Resource{Kind: KindLaunchTemplate, ID: aws.ToString(x.LaunchTemplateId), Name: name, Why: why})
		}
	}
	return nil
}

func (l *lister) autoscalingGroups(ctx context.Context) error {
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(autoscaling.NewFromConfig(l.cfg), &autoscaling.DescribeAutoScalingGroupsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.AutoScalingGroups {
			m := map[string]string{}
			for _, t := range x.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			name := aws.ToString(x.AutoScalingGroupName)
			if why := l.match(m, name); why != "" {
				l.add(Resource{Kind: KindASG, ID: name, ARN: aws.ToString(x.AutoScalingGroupARN), Name: name, Why: why})
			}
		}
	}
	return nil
}

func (l *lister) s3() *s3.Client {
	return s3.NewFromConfig(l.cfg, func(o *s3.Options) { o.UsePathStyle = l.t.Endpoint != "" })
}

func (l *lister) buckets(ctx context.Context) error {
	c := l.s3()
	keep := map[string]bool{}
	for _, b := range l.t.KeepBuckets {
		keep[b] = true
	}
	out, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return err
	}
	for _, b := range out.Buckets {
		name := aws.ToString(b.Name)
		if keep[name] {
			continue
		}
		m := map[string]string{}
		if tg, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name}); err == nil {
			for _, t := range tg.TagSet {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
		} // NoSuchTagSet: an untagged bucket
		if m["kforge.io/purpose"] == "terraform-state" {
			continue // a state bucket outlives its clusters
		}
		if why := l.match(m, name); why != "" {
			l.add(Resource{Kind: KindBucket, ID: name, ARN: "arn:aws:s3:::" + name, Name: name, Why: why})
		}
	}
	return nil
}

func (l *lister) iam(ctx context.Context) error {
	c := iam.NewFromConfig(l.cfg)
	roles := iam.NewListRolesPaginator(c, &iam.ListRolesInput{})
	for roles.HasMorePages() {
		out, err := roles.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, r := range out.Roles {
			name := aws.ToString(r.RoleName)
			m := map[string]string{}
			if why := l.match(nil, name); why == "" {
				tags, err := c.ListRoleTags(ctx, &iam.ListRoleTagsInput{RoleName: r.RoleName})
				if err != nil {
					return fmt.Errorf("tags of role %s: %w", name, err)
				}
				for _, t := range tags.Tags {
					m[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
			}
			if why := l.match(m, name); why != "" {
				l.add(Resource{Kind: KindRole, ID: name, ARN: aws.ToString(r.Arn), Name: name, Why: why})
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
			name := aws.ToString(p.PolicyName)
			m := map[string]string{}
			if l.match(nil, name) == "" {
				tags, err := c.ListPolicyTags(ctx, &iam.ListPolicyTagsInput{PolicyArn: p.Arn})
				if err != nil {
					return fmt.Errorf("tags of policy %s: %w", name, err)
				}
				for _, t := range tags.Tags {
					m[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
			}
			if why := l.match(m, name); why != "" {
				l.add(Resource{Kind: KindPolicy, ID: aws.ToString(p.Arn), ARN: aws.ToString(p.Arn), Name: name, Why: why})
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
			m := map[string]string{}
			for _, t := range p.Tags {
				m[aws.ToString(t.Key)] = aws.ToString(t.Value)
			}
			name := aws.ToString(p.InstanceProfileName)
			if why := l.match(m, name); why != "" {
				l.add(Resource{Kind: KindInstanceProfile, ID: name, ARN: aws.ToString(p.Arn), Name: name, Why: why})
			}
		}
	}
	return nil
}

func (l *lister) kms(ctx context.Context) error {
	c := kms.NewFromConfig(l.cfg)
	keys := kms.NewListKeysPaginator(c, &kms.ListKeysInput{})
	for keys.HasMorePages() {
		out, err := keys.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, k := range out.Keys {
			d, err := c.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
			if err != nil {
				return fmt.Errorf("describing key %s: %w", aws.ToString(k.KeyId), err)
			}
			md := d.KeyMetadata
			if md.KeyManager == kmstypes.KeyManagerTypeAws || md.KeyState == kmstypes.KeyStatePendingDeletion || md.KeyState == kmstypes.KeyStatePendingReplicaDeletion {
				continue // deleting a key means scheduling its deletion
			}
			tags, err := c.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
			if err != nil {
				return fmt.Errorf("tags of key %s: %w", aws.ToString(k.KeyId), err)
			}
			m := map[string]string{}
			for _, t := range tags.Tags {
				m[aws.ToString(t.TagKey)] = aws.ToString(t.TagValue)
			}
			if why := l.match(m, ""); why != "" {
				l.add(Resource{Kind: KindKMSKey, ID: aws.ToString(k.KeyId), ARN: aws.ToString(k.KeyArn), Why: why})
			}
		}
	}
	aliases := kms.NewListAliasesPaginator(c, &kms.ListAliasesInput{})
	for aliases.HasMorePages() {
		out, err := aliases.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, a := range out.Aliases {
			name := aws.ToString(a.AliasName)
			if why := l.match(nil, strings.TrimPrefix(name, "alias/")); why != "" {
				l.add(Resource{Kind: KindKMSAlias, ID: name, ARN: aws.ToString(a.AliasArn), Name: name, Parent: aws.ToString(a.TargetKeyId), Why: why})
			}
		}
	}
	return nil
}

func (l *lister) route53(ctx context.Context) error {
	c := route53.NewFromConfig(l.cfg)
	managed := map[string]bool{}
	for _, n := range l.t.RecordNames {
		managed[recordName(n)] = true
	}
	zp := route53.NewListHostedZonesPaginator(c, &route53.ListHostedZonesInput{})
	for zp.HasMorePages() {
		zones, err := zp.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, z := range zones.HostedZones {
			id := strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
			name := recordName(aws.ToString(z.Name))
			tags, err := c.ListTagsForResource(ctx, &route53.ListTagsForResourceInput{ResourceId: aws.String(id), ResourceType: "hostedzone"})
			if err != nil {
				return fmt.Errorf("tags of zone %s: %w", id, err)
			}
			m := map[string]string{}
			if tags.ResourceTagSet != nil {
				for _, t := range tags.ResourceTagSet.Tags {
					m[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
			}
			// Only the tag: a zone for the same domain may be the user's own.
			why := l.match(m, "")
			if why == "" {
				continue
			}
			l.add(Resource{Kind: KindHostedZone, ID: id, Name: name, Why: why})
			var recs []r53types.ResourceRecordSet
			rp := route53.NewListResourceRecordSetsPaginator(c, &route53.ListResourceRecordSetsInput{HostedZoneId: z.Id})
			for rp.HasMorePages() {
				page, err := rp.NextPage(ctx)
				if err != nil {
					return fmt.Errorf("records of zone %s: %w", id, err)
				}
				recs = append(recs, page.ResourceRecordSets...)
			}
			for _, r := range recs {
				rn := recordName(aws.ToString(r.Name))
				if rn == name && (r.Type == "NS" || r.Type == "SOA") {
					continue // the zone's own; they go with it
				}
				parent := id
				if managed[rn] {
					parent = ""
				}
				// The ID is Terraform's aws_route53_record id: zone_name_type.
				l.add(Resource{Kind: KindRecord, ID: id + "_" + rn + "_" + string(r.Type), Name: rn, Parent: parent, Why: "in zone " + name})
			}
		}
	}
	return nil
}

// recordName normalises a Route 53 name: no final dot, lower case, and the
// wildcard that Route 53 lists as \052 spelled *.
func recordName(n string) string {
	return strings.ToLower(strings.ReplaceAll(strings.TrimSuffix(n, "."), `\052`, "*"))
}
