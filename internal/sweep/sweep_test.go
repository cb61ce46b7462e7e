package sweep

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// cluster creates, with the SDK, one resource of most kinds a kforge
// cluster has (and the dependencies that make deleting them non-trivial:
// cross-referencing security groups, an ASG with instances, a versioned
// bucket with objects, a zone with records).
func createCluster(t *testing.T, ctx context.Context, cfg aws.Config, endpoint, name, cidr string) {
	t.Helper()
	// Most of these creates are not idempotent (CreateVpc takes no client
	// token): a retry after a lost answer makes a second resource, and the
	// clusters would no longer list alike. A failure is reported instead.
	cfg = cfg.Copy()
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s %s: %v", name, what, err)
		}
	}
	tag := []ec2types.Tag{{Key: aws.String(ClusterTag), Value: aws.String(name)}}
	spec := func(rt ec2types.ResourceType, extra ...ec2types.Tag) []ec2types.TagSpecification {
		return []ec2types.TagSpecification{{ResourceType: rt, Tags: append(append([]ec2types.Tag{}, tag...), extra...)}}
	}
	e := ec2.NewFromConfig(cfg)
	vpc, err := e.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String(cidr + ".0.0/16"), TagSpecifications: spec(ec2types.ResourceTypeVpc)})
	must("vpc", err)
	vpcID := vpc.Vpc.VpcId
	var subnets []string
	for i, az := range []string{"us-east-1a", "us-east-1b"} {
		sn, err := e.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpcID, CidrBlock: aws.String(fmt.Sprintf("%s.%d.0/24", cidr, i)), AvailabilityZone: aws.String(az), TagSpecifications: spec(ec2types.ResourceTypeSubnet)})
		must("subnet", err)
		subnets = append(subnets, aws.ToString(sn.Subnet.SubnetId))
	}
	igw, err := e.CreateInternetGateway(ctx, &ec2.CreateInternetGatewayInput{TagSpecifications: spec(ec2types.ResourceTypeInternetGateway)})
	must("igw", err)
	_, err = e.AttachInternetGateway(ctx, &ec2.AttachInternetGatewayInput{InternetGatewayId: igw.InternetGateway.InternetGatewayId, VpcId: vpcID})
	must("igw attach", err)
	rt, err := e.CreateRouteTable(ctx, &ec2.CreateRouteTableInput{VpcId: vpcID, TagSpecifications: spec(ec2types.ResourceTypeRouteTable)})
	must("route table", err)
	_, err = e.AssociateRouteTable(ctx, &ec2.AssociateRouteTableInput{RouteTableId: rt.RouteTable.RouteTableId, SubnetId: aws.String(subnets[0])})
	must("route table association", err)
	var sgs []*string
	for _, n := range []string{"nodes", "nlb"} {
		sg, err := e.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name + "-" + n), Description: aws.String(n), VpcId: vpcID, TagSpecifications: spec(ec2types.ResourceTypeSecurityGroup)})
		must("sg", err)
		sgs = append(sgs, sg.GroupId)
	}
	// Each group lets the other in: neither can go first without a revoke.
	for i := range sgs {
		_, err = e.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{GroupId: sgs[i], IpPermissions: []ec2types.IpPermission{{
			IpProtocol: aws.String("tcp"), FromPort: aws.Int32(30443), ToPort: aws.Int32(30443),
			UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: sgs[1-i]}},
		}}})
		must("sg rule", err)
	}
	// moto fails to delete an endpoint created without a type (as Terraform always gives).
	_, err = e.CreateVpcEndpoint(ctx, &ec2.CreateVpcEndpointInput{VpcId: vpcID, VpcEndpointType: ec2types.VpcEndpointTypeGateway, ServiceName: aws.String("com.amazonaws.us-east-1.s3"), RouteTableIds: []string{aws.ToString(rt.RouteTable.RouteTableId)}, TagSpecifications: spec(ec2types.ResourceTypeVpcEndpoint)})
	must("vpc endpoint", err)

	lt, err := e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String(name + "-general"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Small},
		TagSpecifications:  spec(ec2types.ResourceTypeLaunchTemplate),
	})
	must("launch template", err)

	elb := elbv2.NewFromConfig(cfg)
	elbTag := []elbtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String(name)}}
	tg, err := elb.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String(name + "-https"), Protocol: elbtypes.ProtocolEnumTcp, Port: aws.Int32(30443), VpcId: vpcID, Tags: elbTag})
	must("target group", err)
	lb, err := elb.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{Name: aws.String(name + "-nlb"), Type: elbtypes.LoadBalancerTypeEnumNetwork, Subnets: subnets, Tags: elbTag})
	must("load balancer", err)
	_, err = elb.CreateListener(ctx, &elbv2.CreateListenerInput{LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Port: aws.Int32(443), Protocol: elbtypes.ProtocolEnumTcp,
		DefaultActions: []elbtypes.Action{{Type: elbtypes.ActionTypeEnumForward, TargetGroupArn: tg.TargetGroups[0].TargetGroupArn}}})
	must("listener", err)

	asg := autoscaling.NewFromConfig(cfg)
	_, err = asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name + "-general"), MinSize: aws.Int32(1), MaxSize: aws.Int32(2), DesiredCapacity: aws.Int32(1),
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
		VPCZoneIdentifier: aws.String(strings.Join(subnets, ",")),
		TargetGroupARNs:   []string{aws.ToString(tg.TargetGroups[0].TargetGroupArn)},
		Tags:              []asgtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String(name), PropagateAtLaunch: aws.Bool(true)}},
	})
	must("asg", err)

	fs := efs.NewFromConfig(cfg)
	fsID := localawstest.CreateFileSystem(ctx, t, fs, &efs.CreateFileSystemInput{CreationToken: aws.String(name + "-efs"), Encrypted: aws.Bool(true), Tags: []efstypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String(name)}, {Key: aws.String("Name"), Value: aws.String(name + "-efs")}}})
	_, err = fs.CreateMountTarget(ctx, &efs.CreateMountTargetInput{FileSystemId: aws.String(fsID), SubnetId: aws.String(subnets[1]), SecurityGroups: []string{aws.ToString(sgs[0])}})
	must("mount target", err)
	_, err = fs.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: aws.String(fsID), ClientToken: aws.String(name + "-ap")})
	must("access point", err)

	im := iam.NewFromConfig(cfg)
	iamTag := []iamtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String(name)}}
	_, err = im.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name + "-worker"), Tags: iamTag,
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)})
	must("role", err)
	_, err = im.PutRolePolicy(ctx, &iam.PutRolePolicyInput{RoleName: aws.String(name + "-worker"), PolicyName: aws.String("inline"), PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}`)})
	must("inline policy", err)
	pol, err := im.CreatePolicy(ctx, &iam.CreatePolicyInput{PolicyName: aws.String(name + "-autoscaler"), Tags: iamTag, PolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"autoscaling:Describe*","Resource":"*"}]}`)})
	must("policy", err)
	_, err = im.AttachRolePolicy(ctx, &iam.AttachRolePolicyInput{RoleName: aws.String(name + "-worker"), PolicyArn: pol.Policy.Arn})
	must("attach policy", err)
	_, err = im.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String(name + "-worker"), Tags: iamTag})
	must("instance profile", err)
	localawstest.AddRoleToInstanceProfile(ctx, t, im, name+"-worker", name+"-worker")

	b := awsx.S3Client(cfg, endpoint)
	bucket := aws.String(name + "-certs-123456789012-us-east-1")
	_, err = b.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: bucket})
	must("bucket", err)
	_, err = b.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: bucket, VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	must("versioning", err)
	_, err = b.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: bucket, Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(ClusterTag), Value: aws.String(name)}}}})
	must("bucket tags", err)
	for i := range 3 { // two versions and a delete marker of one key
		_, err = b.PutObject(ctx, &s3.PutObjectInput{Bucket: bucket, Key: aws.String("bootstrap/cluster.json"), Body: strings.NewReader(fmt.Sprint(i))})
		must("object", err)
	}
	_, err = b.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: bucket, Key: aws.String("bootstrap/cluster.json")})
	must("delete marker", err)

	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Tags: []kmstypes.Tag{{TagKey: aws.String(ClusterTag), TagValue: aws.String(name)}}})
	must("kms key", err)
	_, err = k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/" + name), TargetKeyId: key.KeyMetadata.KeyId})
	must("kms alias", err)

	// The node events queue and a rule targeting it (a rule with a target
	// cannot be deleted before the target is removed).
	q, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(name + "-node-events"), Tags: map[string]string{ClusterTag: name}})
	must("queue", err)
	qa, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	must("queue arn", err)
	eb := eventbridge.NewFromConfig(cfg)
	_, err = eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String(name + "-spot-interruption"), EventPattern: aws.String(`{"source":["aws.ec2"],"detail-type":["EC2 Spot Instance Interruption Warning"]}`),
		Tags: []ebtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String(name)}}})
	must("rule", err)
	_, err = eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(name + "-spot-interruption"), Targets: []ebtypes.Target{{Id: aws.String("node-events"), Arn: aws.String(qa.Attributes[string(sqstypes.QueueAttributeNameQueueArn)])}}})
	must("rule target", err)

	r := route53.NewFromConfig(cfg)
	domain := name + ".example.test"
	zone, err := r.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(domain), CallerReference: aws.String(name + time.Now().String())})
	must("zone", err)
	zoneID := strings.TrimPrefix(aws.ToString(zone.HostedZone.Id), "/hostedzone/")
	_, err = r.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceId: aws.String(zoneID), ResourceType: r53types.TagResourceTypeHostedzone, AddTags: []r53types.Tag{{Key: aws.String(ClusterTag), Value: aws.String(name)}}})
	must("zone tags", err)
	_, err = r.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: zone.HostedZone.Id, ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{{
		Action:            r53types.ChangeActionCreate,
		ResourceRecordSet: &r53types.ResourceRecordSet{Name: aws.String("api." + domain), Type: r53types.RRTypeA, TTL: aws.Int64(60), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String("192.0.2.20")}}},
	}}}})
	must("record", err)
}

func kinds(rs []Resource) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[r.Kind]++
	}
	return m
}

func kindList(m map[string]int) string {
	var ks []string
	for k, n := range m {
		ks = append(ks, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

// createForeign makes resources of another tool whose names start with
// "alpha-": a role and a bucket with tags of their own and no cluster tag.
func createForeign(t *testing.T, ctx context.Context, cfg aws.Config, endpoint string) map[string]bool {
	t.Helper()
	if _, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{
		RoleName: aws.String("alpha-eks-node"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`),
		Tags: []iamtypes.Tag{{Key: aws.String("managed-by"), Value: aws.String("eksctl")}},
	}); err != nil {
		t.Fatal(err)
	}
	c := awsx.S3Client(cfg, endpoint)
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("alpha-data")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("alpha-data"), Tagging: &s3types.Tagging{
		TagSet: []s3types.Tag{{Key: aws.String("team"), Value: aws.String("data")}},
	}}); err != nil {
		t.Fatal(err)
	}
	return map[string]bool{"alpha-eks-node": true, "alpha-data": true}
}

// withoutListedIAMTags returns cfg with the tags taken out of ListRoles and
// ListInstanceProfiles answers, which AWS leaves out (the IAM API Reference:
// "this operation does not return tags") and moto includes.
func withoutListedIAMTags(cfg aws.Config) aws.Config {
	c := cfg.Copy()
	c.APIOptions = append(c.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("withoutListedIAMTags",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				out, md, err := next.HandleInitialize(ctx, in)
				switch o := out.Result.(type) {
				case *iam.ListRolesOutput:
					for i := range o.Roles {
						o.Roles[i].Tags = nil
					}
				case *iam.ListInstanceProfilesOutput:
					for i := range o.InstanceProfiles {
						o.InstanceProfiles[i].Tags = nil
					}
				}
				return out, md, err
			}), middleware.After)
	})
	return c
}

// TestListAndDeleteAgainstEmulator: two clusters in one emulator, the
// second named with the first's name and a dash ("alpha-eu", so every one
// of its names starts with "alpha-"); sweeping alpha removes every resource
// of alpha, leaves alpha-eu exactly as it was, and a second sweep of alpha
// is a no-op.
func TestListAndDeleteAgainstEmulator(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	createCluster(t, ctx, cfg, em.URL(), "alpha", "10.10")
	createCluster(t, ctx, cfg, em.URL(), "alpha-eu", "10.20")
	// Another tool's resources named like alpha's, tagged but not by kforge.
	foreign := createForeign(t, ctx, cfg, em.URL())
	// The lister sees IAM's list answers as AWS gives them: without tags.
	cfg = withoutListedIAMTags(cfg)
	// A prefix that is not "<cluster>-" must not match: alpha2 is not alpha.
	if _, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("alpha2-worker"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}

	a, err := List(ctx, cfg, Target{Cluster: "alpha", Endpoint: em.URL(), RecordNames: []string{"api.alpha.example.test", "*.alpha.example.test"}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := List(ctx, cfg, Target{Cluster: "alpha-eu", Endpoint: em.URL()})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("alpha: %d resources: %s", len(a), kindList(kinds(a)))
	for _, k := range []string{KindVPC, KindSubnet, KindRouteTable, KindInternetGateway, KindSecurityGroup, KindVPCEndpoint,
		KindLaunchTemplate, KindTargetGroup, KindLoadBalancer, KindASG, KindInstance, KindFileSystem, KindMountTarget,
		KindAccessPoint, KindRole, KindPolicy, KindInstanceProfile, KindBucket, KindKMSKey, KindKMSAlias, KindHostedZone, KindRecord,
		KindEventRule, KindQueue} {
		if kinds(a)[k] == 0 {
			t.Errorf("alpha: no %s listed", k)
		}
	}
	for _, r := range a {
		if r.Kind == KindQueue && r.ARN != "arn:aws:sqs:us-east-1:123456789012:alpha-node-events" {
			t.Errorf("queue %+v: want its ARN, which the orphans check matches against the state", r)
		}
		if r.Kind == KindRecord && (r.Name != "api.alpha.example.test" || r.Parent != "") {
			t.Errorf("record %+v: want api.alpha.example.test listed as managed by Terraform (no parent)", r)
		}
	}
	if kindList(kinds(a)) != kindList(kinds(b)) {
		t.Errorf("the same clusters list differently:\nalpha    %s\nalpha-eu %s", kindList(kinds(a)), kindList(kinds(b)))
	}
	for _, r := range a {
		if strings.Contains(r.Name, "alpha2") || strings.Contains(r.Name, "alpha-eu") || foreign[r.Name] {
			t.Errorf("alpha lists a resource of another cluster: %s", r)
		}
	}

	res := Delete(ctx, cfg, a, Options{Endpoint: em.URL(), Wait: time.Minute, Poll: 200 * time.Millisecond})
	if err := res.Err(); err != nil {
		t.Fatalf("deleting alpha: %v", err)
	}
	left, err := List(ctx, cfg, Target{Cluster: "alpha", Endpoint: em.URL()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range left {
		t.Errorf("left after the sweep of alpha: %s (%s)", r, r.Why)
	}
	bAfter, err := List(ctx, cfg, Target{Cluster: "alpha-eu", Endpoint: em.URL()})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(bAfter) != fmt.Sprint(b) {
		t.Errorf("sweeping alpha changed alpha-eu:\nbefore %v\nafter  %v", b, bAfter)
	}
	if _, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("alpha2-worker")}); err != nil {
		t.Errorf("alpha2-worker was deleted with alpha: %v", err)
	}
	if _, err := iam.NewFromConfig(cfg).GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("alpha-eks-node")}); err != nil {
		t.Errorf("another tool's role alpha-eks-node was deleted with alpha: %v", err)
	}
	if _, err := awsx.S3Client(cfg, em.URL()).HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("alpha-data")}); err != nil {
		t.Errorf("another tool's bucket alpha-data was deleted with alpha: %v", err)
	}
	// KMS: deletion is scheduled, not immediate.
	for _, r := range a {
		if r.Kind == KindKMSKey {
			d, err := kms.NewFromConfig(cfg).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.ID)})
			if err != nil || d.KeyMetadata.KeyState != kmstypes.KeyStatePendingDeletion {
				t.Errorf("key %s: want PendingDeletion, got %v %v", r.ID, d, err)
			}
		}
	}
	// Idempotent: deleting what is gone succeeds.
	if err := Delete(ctx, cfg, a, Options{Endpoint: em.URL(), Wait: 10 * time.Second, Poll: 200 * time.Millisecond}).Err(); err != nil {
		t.Errorf("second delete of alpha: %v", err)
	}
	t.Logf("swept %d resources of alpha in %d kinds; alpha-eu's %d untouched", len(res.Deleted), len(kinds(a)), len(b))
}

func TestOrphans(t *testing.T) {
	all := []Resource{
		{Kind: KindASG, ID: "c-general", ARN: "arn:asg/c-general"},
		{Kind: KindInstance, ID: "i-1", Parent: "c-general"}, // of an in-state ASG
		{Kind: KindENI, ID: "eni-1", Parent: "i-1"},          // of that instance
		{Kind: KindVolume, ID: "vol-1", Parent: "i-1"},       // of that instance
		{Kind: KindASG, ID: "c-system"},                      // orphan ASG
		{Kind: KindInstance, ID: "i-2", Parent: "c-system"},  // goes with it
		{Kind: KindENI, ID: "eni-2", Parent: "i-2"},          // and this
		{Kind: KindLoadBalancer, ID: "arn:lb/c-nlb", ARN: "arn:lb/c-nlb"},
		{Kind: KindENI, ID: "eni-3", Parent: "arn:lb/c-nlb"},              // of an in-state LB
		{Kind: KindENI, ID: "eni-4", Parent: "attached:eni-4"},            // attached to something not listed
		{Kind: KindENI, ID: "eni-5"},                                      // detached, nobody's
		{Kind: KindVolume, ID: "vol-2"},                                   // detached: may be a PV's data
		{Kind: KindVPC, ID: "vpc-1"},                                      // in state
		{Kind: KindVPC, ID: "vpc-2"},                                      // orphan
		{Kind: KindSubnet, ID: "subnet-2", Parent: "vpc-2"},               // orphan (not a runtime child)
		{Kind: KindRole, ID: "c-worker", ARN: "arn:iam::1:role/c-worker"}, // known by ARN only
		// A role named as a policy in the state: the policy's name is no
		// proof of the role (a lost CreateRole answer left it unrecorded).
		{Kind: KindRole, ID: "c-controller", ARN: "arn:iam::1:role/c-controller"},
		{Kind: KindInstanceProfile, ID: "c-controller", ARN: "arn:iam::1:instance-profile/c-controller"}, // in state
		// An ASG whose create answer was lost, named as its launch template
		// in the state: it is an orphan, and so is its instance.
		{Kind: KindASG, ID: "c-spot", ARN: "arn:asg/c-spot"},
		{Kind: KindInstance, ID: "i-9", Parent: "c-spot"},
		{Kind: KindHostedZone, ID: "Z1"},
		{Kind: KindRecord, ID: "Z1_www.c_A", Parent: "Z1"}, // a user's, in an in-state zone
		{Kind: KindRecord, ID: "Z1_api.c_A"},               // a name Terraform manages, not in the state
		{Kind: KindFileSystem, ID: "fs-1"},
		{Kind: KindAccessPoint, ID: "fsap-1", Parent: "fs-1"}, // made by the CSI driver
		{Kind: KindMountTarget, ID: "fsmt-1", Parent: "fs-1"}, // not a runtime child: Terraform makes them
	}
	st := &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{
		Resources: []*tfjson.StateResource{{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"id": "c-general", "arn": "arn:asg/c-general"}}},
		ChildModules: []*tfjson.StateModule{{Resources: []*tfjson.StateResource{
			{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"id": "arn:lb/c-nlb", "subnets": []any{"subnet-1"}}},
			{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"id": "vpc-1"}},
			{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"id": "x", "nested": map[string]any{"arn": "arn:iam::1:role/c-worker"}}},
			{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"zone_id": "Z1"}},
			{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"id": "arn:iam::1:policy/c-controller", "name": "c-controller"}},
			{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"id": "c-controller", "arn": "arn:iam::1:instance-profile/c-controller", "role": "c-controller"}},
			{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"id": "lt-9", "name": "c-spot"}},
			{Mode: tfjson.ManagedResourceMode, AttributeValues: map[string]any{"id": "fs-1"}},
			{Mode: tfjson.DataResourceMode, AttributeValues: map[string]any{"id": "vpc-2"}}, // a data source proves nothing
		}}},
	}}}
	var got []string
	for _, r := range Orphans(all, StateValues(st)) {
		got = append(got, r.ID)
	}
	want := []string{"c-system", "i-2", "eni-2", "eni-5", "vpc-2", "subnet-2", "c-controller", "c-spot", "i-9", "Z1_api.c_A", "fsmt-1"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("orphans:\n got %v\nwant %v", got, want)
	}
	if n := len(Orphans(all, StateValues(nil))); n != len(all)-2 {
		t.Errorf("with no state every resource but the two kept run-time children is an orphan: got %d of %d", n, len(all))
	}
}

// TestListSkipsFileSystemDeletedMeanwhile: a file system deleted between
// DescribeFileSystems and DescribeMountTargets (as right after a destroy)
// is gone, not a listing error. The emulator answers the real 404; the
// deletion happens in a middleware just before DescribeMountTargets is sent.
func TestListSkipsFileSystemDeletedMeanwhile(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := efs.NewFromConfig(cfg)
	fsID := localawstest.CreateFileSystem(ctx, t, c, &efs.CreateFileSystemInput{
		CreationToken: aws.String("gamma-efs"),
		Tags:          []efstypes.Tag{{Key: aws.String("Name"), Value: aws.String("gamma-efs")}},
	})
	racing := cfg.Copy()
	racing.APIOptions = append(racing.APIOptions, func(stack *middleware.Stack) error {
		return stack.Initialize.Add(middleware.InitializeMiddlewareFunc("deleteFirst",
			func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
				if _, ok := in.Parameters.(*efs.DescribeMountTargetsInput); ok {
					if _, err := c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String(fsID)}); err != nil {
						t.Errorf("deleting the file system first: %v", err)
					}
				}
				return next.HandleInitialize(ctx, in)
			}), middleware.Before)
	})
	l := &lister{t: Target{Cluster: "gamma"}, cfg: racing, clusterVPCs: map[string]bool{}, lbs: map[string]string{}, fss: map[string]bool{}}
	if err := l.fileSystems(ctx); err != nil {
		t.Fatalf("listing file systems while one is deleted: %v", err)
	}
	if len(l.out) != 0 {
		t.Errorf("listed %v; want nothing (the file system is gone)", l.out)
	}
}

// TestAccessPointsOfFileSystems: the access points of the named file
// systems, none of another's, and nothing (no error) for one already gone.
func TestAccessPointsOfFileSystems(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := efs.NewFromConfig(cfg)
	newFS := func(token string) string {
		t.Helper()
		return localawstest.CreateFileSystem(ctx, t, c, &efs.CreateFileSystemInput{CreationToken: aws.String(token)})
	}
	newAP := func(fs, token string) {
		t.Helper()
		if _, err := c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: aws.String(fs), ClientToken: aws.String(token)}); err != nil {
			t.Fatalf("access point %s: %v", token, err)
		}
	}
	ours, other, gone := newFS("ours"), newFS("other"), newFS("gone")
	newAP(ours, "pvc-1")
	newAP(ours, "pvc-2")
	newAP(other, "pvc-3")
	// What the file system holds, read directly (a retried create may have
	// made one more).
	held, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{FileSystemId: aws.String(ours)})
	if err != nil || len(held.AccessPoints) < 2 {
		t.Fatalf("access points of %s: %v, %v", ours, held, err)
	}
	var want []string
	for _, a := range held.AccessPoints {
		want = append(want, aws.ToString(a.AccessPointId))
	}
	if _, err := c.DeleteFileSystem(ctx, &efs.DeleteFileSystemInput{FileSystemId: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}

	aps, err := AccessPoints(ctx, cfg, []string{ours, gone})
	if err != nil {
		t.Fatalf("AccessPoints: %v", err)
	}
	var got []string
	for _, a := range aps {
		if a.Kind != KindAccessPoint || a.Parent != ours || a.ARN == "" {
			t.Errorf("access point %+v: want kind %s, parent %s and an ARN", a, KindAccessPoint, ours)
		}
		got = append(got, a.ID)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Errorf("access points = %v, want %v (those of %s only)", got, want, ours)
	}
}
