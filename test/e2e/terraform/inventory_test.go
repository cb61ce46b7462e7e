package terraform

import (
	"context"
	"errors"
	"fmt"
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
	route53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

const clusterTag = "kforge.io/cluster"

// inventoryKinds are the kinds inventory reports; the live cluster must
// show every one of them.
var inventoryKinds = []string{
	"vpc", "subnet", "internet gateway", "route table", "security group", "vpc endpoint",
	"launch template", "instance", "elbv2", "autoscaling group", "efs", "bucket",
	"iam role", "iam policy", "instance profile", "kms alias", "kms key", "hosted zone",
}

// inventory lists everything of every resource type the modules create that
// still carries the cluster's tag (or, where a type has no tags in the
// listing, the cluster's name). After a destroy it must be empty.
func inventory(ctx context.Context, c *clients, v clusterVars) ([]string, error) {
	var left []string
	add := func(kind, id string) { left = append(left, kind+" "+id) }
	tagFilter := []ec2types.Filter{{Name: aws.String("tag:" + clusterTag), Values: []string{v.ClusterName}}}

	// EC2 and VPC.
	vpcs, err := c.ec2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing VPCs: %w", err)
	}
	for _, x := range vpcs.Vpcs {
		add("vpc", aws.ToString(x.VpcId))
	}
	subnets, err := c.ec2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing subnets: %w", err)
	}
	for _, x := range subnets.Subnets {
		add("subnet", aws.ToString(x.SubnetId))
	}
	igws, err := c.ec2.DescribeInternetGateways(ctx, &ec2.DescribeInternetGatewaysInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing internet gateways: %w", err)
	}
	for _, x := range igws.InternetGateways {
		add("internet gateway", aws.ToString(x.InternetGatewayId))
	}
	rts, err := c.ec2.DescribeRouteTables(ctx, &ec2.DescribeRouteTablesInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing route tables: %w", err)
	}
	for _, x := range rts.RouteTables {
		add("route table", aws.ToString(x.RouteTableId))
	}
	sgs, err := c.ec2.DescribeSecurityGroups(ctx, &ec2.DescribeSecurityGroupsInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing security groups: %w", err)
	}
	for _, x := range sgs.SecurityGroups {
		add("security group", aws.ToString(x.GroupId))
	}
	eps, err := c.ec2.DescribeVpcEndpoints(ctx, &ec2.DescribeVpcEndpointsInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing VPC endpoints: %w", err)
	}
	for _, x := range eps.VpcEndpoints {
		if !strings.EqualFold(string(x.State), string(ec2types.StateDeleted)) {
			add("vpc endpoint", aws.ToString(x.VpcEndpointId))
		}
	}
	nats, err := c.ec2.DescribeNatGateways(ctx, &ec2.DescribeNatGatewaysInput{Filter: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing NAT gateways: %w", err)
	}
	for _, x := range nats.NatGateways {
		if x.State != ec2types.NatGatewayStateDeleted {
			add("nat gateway", aws.ToString(x.NatGatewayId))
		}
	}
	eips, err := c.ec2.DescribeAddresses(ctx, &ec2.DescribeAddressesInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing elastic IPs: %w", err)
	}
	for _, x := range eips.Addresses {
		add("elastic ip", aws.ToString(x.AllocationId))
	}
	lts, err := c.ec2.DescribeLaunchTemplates(ctx, &ec2.DescribeLaunchTemplatesInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing launch templates: %w", err)
	}
	for _, x := range lts.LaunchTemplates {
		add("launch template", aws.ToString(x.LaunchTemplateId))
	}
	instances, err := c.ec2.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: append(tagFilter, ec2types.Filter{
		Name: aws.String("instance-state-name"), Values: []string{"pending", "running", "stopping", "stopped"},
	})})
	if err != nil {
		return nil, fmt.Errorf("listing instances: %w", err)
	}
	for _, r := range instances.Reservations {
		for _, x := range r.Instances {
			add("instance", aws.ToString(x.InstanceId))
		}
	}
	volumes, err := c.ec2.DescribeVolumes(ctx, &ec2.DescribeVolumesInput{Filters: tagFilter})
	if err != nil {
		return nil, fmt.Errorf("listing volumes: %w", err)
	}
	for _, x := range volumes.Volumes {
		add("volume", aws.ToString(x.VolumeId))
	}

	// Load balancing.
	lbs, err := c.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		return nil, fmt.Errorf("listing load balancers: %w", err)
	}
	var elbARNs []string
	for _, x := range lbs.LoadBalancers {
		elbARNs = append(elbARNs, aws.ToString(x.LoadBalancerArn))
	}
	tgs, err := c.elb.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		return nil, fmt.Errorf("listing target groups: %w", err)
	}
	for _, x := range tgs.TargetGroups {
		elbARNs = append(elbARNs, aws.ToString(x.TargetGroupArn))
	}
	for i := 0; i < len(elbARNs); i += 20 {
		batch := elbARNs[i:min(i+20, len(elbARNs))]
		tags, err := c.elb.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			return nil, fmt.Errorf("load balancer tags: %w", err)
		}
		for _, d := range tags.TagDescriptions {
			for _, tag := range d.Tags {
				if aws.ToString(tag.Key) == clusterTag && aws.ToString(tag.Value) == v.ClusterName {
					add("elbv2", aws.ToString(d.ResourceArn))
				}
			}
		}
	}

	// Auto Scaling.
	groups, err := c.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		return nil, fmt.Errorf("listing ASGs: %w", err)
	}
	for _, g := range groups.AutoScalingGroups {
		for _, tag := range g.Tags {
			if aws.ToString(tag.Key) == clusterTag && aws.ToString(tag.Value) == v.ClusterName {
				add("autoscaling group", aws.ToString(g.AutoScalingGroupName))
			}
		}
	}

	// EFS.
	fss, err := c.efs.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{})
	if err != nil {
		return nil, fmt.Errorf("listing file systems: %w", err)
	}
	for _, fs := range fss.FileSystems {
		for _, tag := range fs.Tags {
			if aws.ToString(tag.Key) == clusterTag && aws.ToString(tag.Value) == v.ClusterName {
				add("efs", aws.ToString(fs.FileSystemId))
			}
		}
	}

	// S3 (the state bucket is kforge's own and outlives the cluster).
	buckets, err := c.s3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		return nil, fmt.Errorf("listing buckets: %w", err)
	}
	for _, b := range buckets.Buckets {
		name := aws.ToString(b.Name)
		if name == stateBucket {
			continue
		}
		tags, err := c.s3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name})
		if err != nil {
			if strings.HasPrefix(name, v.ClusterName+"-") {
				add("bucket", name)
			}
			continue
		}
		for _, tag := range tags.TagSet {
			if aws.ToString(tag.Key) == clusterTag && aws.ToString(tag.Value) == v.ClusterName {
				add("bucket", name)
			}
		}
	}

	// IAM: names carry the cluster prefix.
	prefix := v.ClusterName + "-"
	roles, err := c.iam.ListRoles(ctx, &iam.ListRolesInput{})
	if err != nil {
		return nil, fmt.Errorf("listing roles: %w", err)
	}
	for _, r := range roles.Roles {
		if strings.HasPrefix(aws.ToString(r.RoleName), prefix) {
			add("iam role", aws.ToString(r.RoleName))
		}
	}
	policies, err := c.iam.ListPolicies(ctx, &iam.ListPoliciesInput{Scope: "Local"})
	if err != nil {
		return nil, fmt.Errorf("listing policies: %w", err)
	}
	for _, p := range policies.Policies {
		if strings.HasPrefix(aws.ToString(p.PolicyName), prefix) {
			add("iam policy", aws.ToString(p.PolicyName))
		}
	}
	profiles, err := c.iam.ListInstanceProfiles(ctx, &iam.ListInstanceProfilesInput{})
	if err != nil {
		return nil, fmt.Errorf("listing instance profiles: %w", err)
	}
	for _, p := range profiles.InstanceProfiles {
		if strings.HasPrefix(aws.ToString(p.InstanceProfileName), prefix) {
			add("instance profile", aws.ToString(p.InstanceProfileName))
		}
	}

	// KMS: a destroyed key is scheduled for deletion; anything else is left.
	aliases, err := c.kms.ListAliases(ctx, &kms.ListAliasesInput{})
	if err != nil {
		return nil, fmt.Errorf("listing KMS aliases: %w", err)
	}
	for _, a := range aliases.Aliases {
		if aws.ToString(a.AliasName) == "alias/"+v.ClusterName {
			add("kms alias", aws.ToString(a.AliasName))
		}
	}
	keyList, err := c.kms.ListKeys(ctx, &kms.ListKeysInput{})
	if err != nil {
		return nil, fmt.Errorf("listing KMS keys: %w", err)
	}
	for _, k := range keyList.Keys {
		desc, err := c.kms.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: k.KeyId})
		if err != nil {
			return nil, fmt.Errorf("describing key %s: %w", aws.ToString(k.KeyId), err)
		}
		if desc.KeyMetadata.KeyState == kmstypes.KeyStatePendingDeletion {
			continue
		}
		tags, err := c.kms.ListResourceTags(ctx, &kms.ListResourceTagsInput{KeyId: k.KeyId})
		if err != nil {
			return nil, fmt.Errorf("tags of key %s: %w", aws.ToString(k.KeyId), err)
		}
		for _, tag := range tags.Tags {
			if aws.ToString(tag.TagKey) == clusterTag && aws.ToString(tag.TagValue) == v.ClusterName {
				add("kms key", aws.ToString(k.KeyId))
			}
		}
	}

	// Route 53.
	zones, err := c.route53.ListHostedZones(ctx, &route53.ListHostedZonesInput{})
	if err != nil {
		return nil, fmt.Errorf("listing hosted zones: %w", err)
	}
	for _, z := range zones.HostedZones {
		id := strings.TrimPrefix(aws.ToString(z.Id), "/hostedzone/")
		if normalizeDNS(aws.ToString(z.Name)) == v.Domain {
			add("hosted zone", id)
			continue
		}
		tags, err := c.route53.ListTagsForResource(ctx, &route53.ListTagsForResourceInput{ResourceId: aws.String(id), ResourceType: route53types.TagResourceTypeHostedzone})
		if err != nil {
			var nf *route53types.NoSuchHostedZone
			if errors.As(err, &nf) {
				continue
			}
			return nil, fmt.Errorf("tags of zone %s: %w", id, err)
		}
		for _, tag := range tags.ResourceTagSet.Tags {
			if aws.ToString(tag.Key) == clusterTag && aws.ToString(tag.Value) == v.ClusterName {
				add("hosted zone", id)
			}
		}
	}
	return left, nil
}
