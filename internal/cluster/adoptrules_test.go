package cluster

import (
	"context"
	"errors"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// A rule that exists in a recorded group but not in the state is matched to
// the planned create with the same identity, once; recorded rules, rules of
// groups still to be created and different rules are left alone.
func TestUnrecordedRulesMatchPlannedCreates(t *testing.T) {
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	client := ec2.NewFromConfig(cfg)
	vpc, err := client.CreateVpc(ctx, &ec2.CreateVpcInput{CidrBlock: aws.String("10.0.0.0/16")})
	if err != nil {
		t.Fatal(err)
	}
	group := func(name string) string {
		out, err := client.CreateSecurityGroup(ctx, &ec2.CreateSecurityGroupInput{GroupName: aws.String(name), Description: aws.String(name), VpcId: vpc.Vpc.VpcId})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.GroupId)
	}
	workers, controller := group("workers"), group("controller")
	authorize := func(proto string, from, to int32, source string) string {
		out, err := client.AuthorizeSecurityGroupIngress(ctx, &ec2.AuthorizeSecurityGroupIngressInput{
			GroupId: aws.String(workers),
			IpPermissions: []ec2types.IpPermission{{IpProtocol: aws.String(proto), FromPort: aws.Int32(from), ToPort: aws.Int32(to),
				UserIdGroupPairs: []ec2types.UserIdGroupPair{{GroupId: aws.String(source)}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return aws.ToString(out.SecurityGroupRules[0].SecurityGroupRuleId)
	}
	unrecorded := authorize("tcp", 10250, 10250, workers)
	recorded := authorize("udp", 8472, 8472, workers)
	icmp := authorize("icmp", 8, 0, controller)

	rule := func(addr, group, proto string, from, to float64, ref string) *tfjson.ResourceChange {
		after := map[string]any{"ip_protocol": proto, "from_port": from, "to_port": to, "referenced_security_group_id": ref}
		if group != "" {
			after["security_group_id"] = group
		}
		return &tfjson.ResourceChange{Address: addr, Type: "aws_vpc_security_group_ingress_rule",
			Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionCreate}, After: after}}
	}
	plan := &tfjson.Plan{
		PriorState: &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{
			ChildModules: []*tfjson.StateModule{{Resources: []*tfjson.StateResource{{
				Type: "aws_vpc_security_group_ingress_rule", AttributeValues: map[string]any{"id": recorded},
			}}}},
		}}},
		ResourceChanges: []*tfjson.ResourceChange{
			rule(`module.workers.aws_vpc_security_group_ingress_rule.nodes["kubelet-self"]`, workers, "tcp", 10250, 10250, workers),
			rule(`module.workers.aws_vpc_security_group_ingress_rule.copy["kubelet-self"]`, workers, "tcp", 10250, 10250, workers),
			rule(`module.workers.aws_vpc_security_group_ingress_rule.nodes["cilium-vxlan-self"]`, workers, "udp", 8472, 8472, workers),
			rule(`module.workers.aws_vpc_security_group_ingress_rule.nodes["cilium-icmp-peer0"]`, workers, "icmp", 8, 0, controller),
			rule(`module.workers.aws_vpc_security_group_ingress_rule.nodes["cilium-health-self"]`, workers, "tcp", 4240, 4240, workers),
			rule(`module.other.aws_vpc_security_group_ingress_rule.new`, "", "tcp", 10250, 10250, workers),
		},
	}
	describe := func(g string) ([]ec2types.SecurityGroupRule, error) {
		out, err := client.DescribeSecurityGroupRules(ctx, &ec2.DescribeSecurityGroupRulesInput{
			Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{g}}},
		})
		if err != nil {
			return nil, err
		}
		return out.SecurityGroupRules, nil
	}
	adopt, err := unrecordedRules(plan, describe)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		`module.workers.aws_vpc_security_group_ingress_rule.nodes["kubelet-self"]`:      unrecorded,
		`module.workers.aws_vpc_security_group_ingress_rule.nodes["cilium-icmp-peer0"]`: icmp,
	}
	if len(adopt) != len(want) {
		t.Errorf("adopted %d rules, want %d: %v", len(adopt), len(want), adopt)
	}
	for addr, id := range want {
		if adopt[addr].ID != id {
			t.Errorf("%s adopts %q, want %q", addr, adopt[addr].ID, id)
		}
	}
}

// TestLostCreateNamesWhatToRecover: the duplicates an apply can meet when
// the answer to a create was lost, as Terraform reports them (the group's
// from a CI run of `make local`; the SDK writes an unmodeled code after
// "api error", a modeled one alone), and nothing else: not a missing
// resource, and not an "already exists" code that only ends like one.
func TestLostCreateNamesWhatToRecover(t *testing.T) {
	for _, c := range []struct {
		err           error
		rules, others bool
	}{
		{nil, false, false},
		{errors.New("terraform apply failed: Error: creating Security Group (kforge-local-workers): operation error EC2: CreateSecurityGroup, https response error StatusCode: 400, RequestID: 3LoV, api error InvalidGroup.Duplicate: The security group 'kforge-local-workers' already exists"), false, true},
		{errors.New("terraform apply failed: Error: creating VPC Security Group Rule: operation error EC2: AuthorizeSecurityGroupIngress, https response error StatusCode: 400, api error InvalidPermission.Duplicate: the specified rule already exists"), true, false},
		{errors.New("terraform apply failed: Error: creating IAM Role (kforge-local-worker): operation error IAM: CreateRole, https response error StatusCode: 409, RequestID: 1a2b, EntityAlreadyExists: Role with name kforge-local-worker already exists."), false, true},
		{errors.New("Error: creating Auto Scaling Group (kforge-local-general): operation error Auto Scaling: CreateAutoScalingGroup, https response error StatusCode: 400, RequestID: 9f, AlreadyExists: AutoScalingGroup by this name already exists"), false, true},
		{errors.New("Error: creating EC2 Launch Template (kforge-local-general): operation error EC2: CreateLaunchTemplate, https response error StatusCode: 400, api error InvalidLaunchTemplateName.AlreadyExistsException: Launch template name already in use."), false, true},
		{errors.New("Error: creating VPC Security Group Rule: api error InvalidPermission.Duplicate: x\nError: creating IAM Role (r): EntityAlreadyExists: y"), true, true},
		{errors.New("terraform apply failed: Error: InvalidGroup.NotFound: The security group 'sg-1' does not exist"), false, false},
		{errors.New("Error: creating S3 Bucket (kforge-dev-certs-1): operation error S3: CreateBucket, https response error StatusCode: 409, BucketAlreadyOwnedByYou: Your previous request to create the named bucket succeeded and you already own it."), false, true},
		{errors.New("Error: creating S3 Bucket (kforge-dev-certs-1): operation error S3: CreateBucket, https response error StatusCode: 409, BucketAlreadyExists: The requested bucket name is not available."), false, false},
	} {
		if rules, others := lostCreates(c.err); rules != c.rules || others != c.others {
			t.Errorf("lostCreates(%v) = %v, %v; want %v, %v", c.err, rules, others, c.rules, c.others)
		}
	}
}

// An apply failing on a role added again to its instance profile, or on a
// server error, gets one more plan and apply; a refusal that another plan
// cannot change, such as a quota of the account, does not.
func TestRetryableApplyError(t *testing.T) {
	for msg, want := range map[string]string{
		"Error: adding IAM Role (kforge-local-controller) to IAM Instance Profile (kforge-local-controller): operation error IAM: AddRoleToInstanceProfile, https response error StatusCode: 409, RequestID: 1, LimitExceeded: Cannot exceed quota for InstanceSessionsPerInstanceProfile: 1": "a role added again to its instance profile (the answer to the first add was lost)",
		"Error: creating EC2 Subnet: operation error EC2: CreateSubnet, exceeded maximum number of attempts, 2, https response error StatusCode: 503, RequestID: 2, api error Unavailable: try again":                                                                                         "a server error (StatusCode: 503)",
		"Error: creating IAM Role (r): operation error IAM: CreateRole, https response error StatusCode: 409, RequestID: 3, LimitExceeded: Cannot exceed quota for RolesPerAccount: 1000":                                                                                                     "",
		"Error: creating EC2 Launch Template: api error InvalidParameterValue: bad": "",
	} {
		if got := retryableApplyError(errors.New(msg)); got != want {
			t.Errorf("retryableApplyError(%q) = %q, want %q", msg, got, want)
		}
	}
}
