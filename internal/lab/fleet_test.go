package lab

import (
	"context"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// TestFleetMetadataFromTheEmulator launches an instance the way the
// cluster does (an ASG from a launch template with an instance profile and
// user data) and checks what the node's metadata service would answer:
// the instance's identity and placement, the role of the launch template's
// instance profile (the emulator does not put it on the instance), and the
// launch template's user data.
func TestFleetMetadataFromTheEmulator(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ec2c, iamc, asg := ec2.NewFromConfig(cfg), iam.NewFromConfig(cfg), autoscaling.NewFromConfig(cfg)
	vpc, err := ec2c.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.40.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	subnet, err := ec2c.CreateSubnet(ctx, &ec2.CreateSubnetInput{VpcId: vpc.Vpc.VpcId, CidrBlock: aws.String("10.40.16.0/20"), AvailabilityZone: aws.String("us-east-1b")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("kforge-local-worker"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := iamc.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("kforge-local-worker")}); err != nil {
		t.Fatal(err)
	}
	localawstest.AddRoleToInstanceProfile(ctx, t, iamc, "kforge-local-worker", "kforge-local-worker")
	userData := "#!/bin/bash\nexec kforge node bootstrap --role worker\n"
	lt, err := ec2c.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("kforge-local-general"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-760aaa0f"), InstanceType: ec2types.InstanceTypeT3Medium,
			UserData:           aws.String(base64.StdEncoding.EncodeToString([]byte(userData))),
			IamInstanceProfile: &ec2types.LaunchTemplateIamInstanceProfileSpecificationRequest{Name: aws.String("kforge-local-worker")}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String("kforge-local-general"),
		MinSize: aws.Int32(1), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(1), VPCZoneIdentifier: subnet.Subnet.SubnetId,
		LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId, Version: aws.String("$Latest")},
		Tags:           []asgtypes.Tag{{Key: aws.String(ClusterTag), Value: aws.String("kforge-local"), PropagateAtLaunch: aws.Bool(true)}}}); err != nil {
		t.Fatal(err)
	}
	out, err := ec2c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:" + ClusterTag), Values: []string{"kforge-local"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Reservations) != 1 || len(out.Reservations[0].Instances) != 1 {
		t.Fatalf("want one instance of the cluster, got %+v", out.Reservations)
	}
	inst := out.Reservations[0].Instances[0]
	f := &Fleet{Cluster: "kforge-local", EC2: ec2c, IAM: iamc, STS: sts.NewFromConfig(cfg)}
	md, err := f.metadata(ctx, inst)
	if err != nil {
		t.Fatal(err)
	}
	if md.InstanceID != aws.ToString(inst.InstanceId) || md.PrivateIP != aws.ToString(inst.PrivateIpAddress) || !strings.HasPrefix(md.PrivateIP, "10.40.") {
		t.Errorf("identity: %+v", md)
	}
	if md.AvailabilityZone != "us-east-1b" || md.Region != "us-east-1" {
		t.Errorf("placement: zone %q region %q", md.AvailabilityZone, md.Region)
	}
	if md.Role != "kforge-local-worker" {
		t.Errorf("role = %q, want the launch template's instance profile's role", md.Role)
	}
	if string(md.UserData) != userData {
		t.Errorf("user data = %q", md.UserData)
	}
	if md.Hostname == "" || md.AccessKeyID == "" {
		t.Errorf("hostname %q, access key %q", md.Hostname, md.AccessKeyID)
	}
	// The credentials are the role's session named after the instance, as
	// EC2's are: what the join approver's identity check asks STS about.
	session := cfg.Copy()
	session.Credentials = credentials.NewStaticCredentialsProvider(md.AccessKeyID, md.SecretAccessKey, md.SessionToken)
	who, err := sts.NewFromConfig(session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := "assumed-role/kforge-local-worker/" + md.InstanceID; !strings.HasSuffix(aws.ToString(who.Arn), ":"+want) {
		t.Errorf("the node's credentials are %s, want %s", aws.ToString(who.Arn), want)
	}
}
