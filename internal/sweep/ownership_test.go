package sweep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	r53types "github.com/aws/aws-sdk-go-v2/service/route53/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// In a shared account a cluster's name proves nothing: cluster "prod" must
// not claim what other owners made with names that start with "prod-" and
// no kforge tag. Each of these was listed (and so deleted by up's orphan
// check and by down) when an untagged name could match.
func TestOtherOwnersResourcesOfTheClusterPrefixAreNotListed(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	e := ec2.NewFromConfig(cfg)
	tagged := func(rt ec2types.ResourceType, kv ...string) []ec2types.TagSpecification {
		var tags []ec2types.Tag
		for i := 0; i < len(kv); i += 2 {
			tags = append(tags, ec2types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
		}
		return []ec2types.TagSpecification{{ResourceType: rt, Tags: tags}}
	}

	// A VPC made by a wizard or a module with only Name tags, and an
	// instance of another team in it.
	subnet := testSubnet(t, cfg, "10.99", func(rt ec2types.ResourceType) []ec2types.TagSpecification {
		return tagged(rt, "Name", "prod-2-"+string(rt)) // prod-2-vpc, prod-2-subnet
	})
	if _, err := e.RunInstances(ctx, &ec2.RunInstancesInput{ImageId: aws.String("ami-760aaa0f"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), SubnetId: subnet,
		TagSpecifications: tagged(ec2types.ResourceTypeInstance, "team", "payments")}); err != nil {
		t.Fatal(err)
	}
	// Another team's Auto Scaling group "prod-web" and its instance.
	lt, err := e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Small}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := autoscaling.NewFromConfig(cfg).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("prod-web"), MinSize: aws.Int32(1), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(1),
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
		VPCZoneIdentifier: subnet,
		Tags:              []asgtypes.Tag{{Key: aws.String("team"), Value: aws.String("web"), PropagateAtLaunch: aws.Bool(true)}},
	}); err != nil {
		t.Fatal(err)
	}
	// A persistent volume of another tool's Kubernetes cluster named prod
	// (an EBS CSI driver's tags): kforge runs no EBS driver, and its data
	// is not kforge's to delete.
	if _, err := e.CreateVolume(ctx, &ec2.CreateVolumeInput{AvailabilityZone: aws.String("us-east-1a"), Size: aws.Int32(10),
		TagSpecifications: tagged(ec2types.ResourceTypeVolume, "KubernetesCluster", "prod", "kubernetes.io/cluster/prod", "owned", "kubernetes.io/created-for/pvc/name", "postgres-data")}); err != nil {
		t.Fatal(err)
	}
	// An untagged role and queue, and a team's key under "alias/prod".
	if _, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("prod-lambda-exec"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("prod-orders")}); err != nil {
		t.Fatal(err)
	}
	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("the payments team's key")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/prod"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}

	got, err := List(ctx, withoutListedIAMTags(cfg), Target{Cluster: "prod", Environment: "prod", Endpoint: em.URL()})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range got {
		t.Errorf("cluster prod claims %s (%s)", r, r.Why)
	}
}

// The alias of the cluster's own key is listed, also when the key is
// already pending deletion (a down that failed between the two).
func TestClusterAliasListedByItsKey(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	k := kms.NewFromConfig(cfg)
	key, err := k.CreateKey(ctx, &kms.CreateKeyInput{Tags: []kmstypes.Tag{{TagKey: aws.String(ClusterTag), TagValue: aws.String("prod")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/prod"), TargetKeyId: key.KeyMetadata.KeyId}); err != nil {
		t.Fatal(err)
	}
	list := func() []Resource {
		t.Helper()
		got, err := List(ctx, cfg, Target{Cluster: "prod", Environment: "prod", Endpoint: em.URL()})
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	if got := names(list(), KindKMSAlias); !got["alias/prod"] {
		t.Errorf("aliases listed: %v; want alias/prod on the cluster's key", got)
	}
	if _, err := k.ScheduleKeyDeletion(ctx, &kms.ScheduleKeyDeletionInput{KeyId: key.KeyMetadata.KeyId, PendingWindowInDays: aws.Int32(7)}); err != nil {
		t.Fatal(err)
	}
	if got := names(list(), KindKMSAlias); !got["alias/prod"] {
		t.Errorf("aliases listed with the key pending deletion: %v; want alias/prod", got)
	}
}

// Two environments of one cluster name cannot live in one account: their
// roles, instance profiles, launch templates and buckets have the same
// names. A listing for environment "dev-us" that meets environment
// "dev"'s resources fails, naming both and the fix, rather than hand them
// to up's orphan check, the adoption of kept resources or down.
func TestOtherEnvironmentOfTheSameNameFailsTheListing(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	if _, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("kforge-dev-controller"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`),
		Tags:                     []iamtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String("kforge-dev")}, {Key: aws.String(EnvironmentTag), Value: aws.String("dev")}},
	}); err != nil {
		t.Fatal(err)
	}
	if got, err := List(ctx, cfg, Target{Cluster: "kforge-dev", Environment: "dev", Endpoint: em.URL()}); err != nil || len(names(got, KindRole)) != 1 {
		t.Fatalf("environment dev lists %v, %v; want its role", got, err)
	}
	got, err := List(ctx, cfg, Target{Cluster: "kforge-dev", Environment: "dev-us", Endpoint: em.URL()})
	var conflict *EnvironmentConflict
	if !errors.As(err, &conflict) {
		t.Fatalf("environment dev-us lists %v, %v; want an EnvironmentConflict", got, err)
	}
	for _, want := range []string{`"kforge-dev"`, "environment dev (kforge-dev-controller)", "Give environment dev-us its own `name`", "`environment: dev`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want %q in it", err, want)
		}
	}
}

// Pool names may hold hyphens, so cluster "dev" with pool "eu-general"
// and cluster "dev-eu" with pool "general" both name their launch template
// and group "dev-eu-general": names unique per account and region. Before
// an apply the listing fails, naming the holder and the fix, rather than
// let the apply fail half way with AlreadyExists.
func TestGroupNamesTakenByAnotherClusterFailTheListing(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	subnet := testSubnet(t, cfg, "10.97", nil)
	e := ec2.NewFromConfig(cfg)
	lt, err := e.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("dev-eu-general"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Small},
		TagSpecifications:  []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeLaunchTemplate, Tags: []ec2types.Tag{{Key: aws.String(ClusterTag), Value: aws.String("dev-eu")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := autoscaling.NewFromConfig(cfg).CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("dev-eu-general"), MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0),
		LaunchTemplate:    &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
		VPCZoneIdentifier: subnet,
		Tags:              []asgtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String("dev-eu"), PropagateAtLaunch: aws.Bool(true)}},
	}); err != nil {
		t.Fatal(err)
	}

	// down's sweep does not check names; dev's own groups are no conflict.
	if _, err := List(ctx, cfg, Target{Cluster: "dev", Endpoint: em.URL()}); err != nil {
		t.Fatalf("without group names: %v", err)
	}
	if _, err := List(ctx, cfg, Target{Cluster: "dev-eu", Endpoint: em.URL(), GroupNames: []string{"dev-eu-controller", "dev-eu-general"}}); err != nil {
		t.Fatalf("dev-eu's own names: %v", err)
	}
	_, err = List(ctx, cfg, Target{Cluster: "dev", Endpoint: em.URL(), GroupNames: []string{"dev-controller", "dev-eu-general"}})
	var taken *NamesTaken
	if !errors.As(err, &taken) {
		t.Fatalf("dev with pool eu-general: %v; want NamesTaken", err)
	}
	for _, want := range []string{"dev-eu-general (Auto Scaling group of cluster dev-eu)", "Rename the pool (workerPools) or the cluster (name)"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q: want %q in it", err, want)
		}
	}
}

// Terraform makes only A records in the cluster's zone. The MX, TXT and
// CNAME its users add, at the apex too, belong to the zone: listed as its
// children, so that a kept zone keeps them and up's orphan check does not
// offer them, while kforge's own apex A record missing from the state is
// still an orphan.
func TestZoneUsersRecordsBelongToTheZone(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	const domain = "prod.example.test"
	r53 := route53.NewFromConfig(cfg)
	z, err := r53.CreateHostedZone(ctx, &route53.CreateHostedZoneInput{Name: aws.String(domain), CallerReference: aws.String("zone-users")})
	if err != nil {
		t.Fatal(err)
	}
	zone := strings.TrimPrefix(aws.ToString(z.HostedZone.Id), "/hostedzone/")
	if _, err := r53.ChangeTagsForResource(ctx, &route53.ChangeTagsForResourceInput{ResourceId: aws.String(zone), ResourceType: r53types.TagResourceTypeHostedzone,
		AddTags: []r53types.Tag{{Key: aws.String(ClusterTag), Value: aws.String("prod")}}}); err != nil {
		t.Fatal(err)
	}
	record := func(name string, typ r53types.RRType, value string) r53types.Change {
		return r53types.Change{Action: r53types.ChangeActionCreate, ResourceRecordSet: &r53types.ResourceRecordSet{
			Name: aws.String(name), Type: typ, TTL: aws.Int64(300), ResourceRecords: []r53types.ResourceRecord{{Value: aws.String(value)}}}}
	}
	if _, err := r53.ChangeResourceRecordSets(ctx, &route53.ChangeResourceRecordSetsInput{HostedZoneId: z.HostedZone.Id, ChangeBatch: &r53types.ChangeBatch{Changes: []r53types.Change{
		record(domain, r53types.RRTypeA, "192.0.2.10"),
		record(domain, r53types.RRTypeMx, "10 mail.example.net"),
		record(domain, r53types.RRTypeTxt, `"v=spf1 -all"`),
		record("www."+domain, r53types.RRTypeCname, "example.net"),
	}}}); err != nil {
		t.Fatal(err)
	}
	got, err := List(ctx, cfg, Target{Cluster: "prod", Environment: "prod", Endpoint: em.URL(), RecordNames: []string{domain, "*." + domain, "api." + domain}})
	if err != nil {
		t.Fatal(err)
	}
	parents := map[string]string{}
	for _, r := range got {
		if r.Kind == KindRecord {
			parents[r.ID] = r.Parent
		}
	}
	want := map[string]string{
		zone + "_" + domain + "_A":         "",
		zone + "_" + domain + "_MX":        zone,
		zone + "_" + domain + "_TXT":       zone,
		zone + "_www." + domain + "_CNAME": zone,
	}
	if fmt.Sprint(parents) != fmt.Sprint(want) {
		t.Errorf("records and their parents:\n got %v\nwant %v (only kforge's A record stands alone)", parents, want)
	}
}
