package cluster

import (
	"slices"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

// The rule a failed destroy names leaves the state; every other resource,
// including a rule with another ID, stays.
func TestLostRuleAddresses(t *testing.T) {
	rule := func(addr, typ, id string) *tfjson.StateResource {
		return &tfjson.StateResource{Address: addr, Mode: tfjson.ManagedResourceMode, Type: typ,
			AttributeValues: map[string]any{"security_group_rule_id": id, "id": id}}
	}
	st := &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{
		ChildModules: []*tfjson.StateModule{{Resources: []*tfjson.StateResource{
			rule(`module.workers.aws_vpc_security_group_ingress_rule.nodes["cilium-vxlan-peer0"]`, "aws_vpc_security_group_ingress_rule", "sgr-cdc7232eacb2ea5af"),
			rule(`module.workers.aws_vpc_security_group_egress_rule.nodes["kubelet-self"]`, "aws_vpc_security_group_egress_rule", "sgr-0000000000000001"),
			{Address: "module.network.aws_vpc.this", Mode: tfjson.ManagedResourceMode, Type: "aws_vpc", AttributeValues: map[string]any{"id": "sgr-cdc7232eacb2ea5af"}},
		}}},
	}}}
	msg := `Error: deleting VPC Security Group Rule (sgr-cdc7232eacb2ea5af)
  operation error EC2: RevokeSecurityGroupIngress, https response error StatusCode: 400, api error InvalidPermission.NotFound: The specified rule does not exist in this security group`
	got := lostRuleAddresses(st, msg)
	want := []string{`module.workers.aws_vpc_security_group_ingress_rule.nodes["cilium-vxlan-peer0"]`}
	if !slices.Equal(got, want) {
		t.Fatalf("lost rules %q, want %q", got, want)
	}
	if got := lostRuleAddresses(st, "InvalidPermission.NotFound without an ID"); len(got) != 0 {
		t.Fatalf("no ID named, yet %q would leave the state", got)
	}
}

// A call that failed with a 5xx after the SDK's retries gets one more
// destroy; a client error, a throttle or a status that merely starts
// with 5 does not.
func TestServerErrorPattern(t *testing.T) {
	for msg, want := range map[string]bool{
		`removing IAM Role (kforge-local-controller) from IAM Instance Profile (kforge-local-controller): operation error IAM: RemoveRoleFromInstanceProfile, exceeded maximum number of attempts, 2, https response error StatusCode: 500, RequestID: , error while deserializing xml error response`: true,
		`operation error EC2: DeleteVpc, https response error StatusCode: 503, RequestID: 1, api error Unavailable: try again`:                                                                                                                                                                         true,
		`operation error EC2: RevokeSecurityGroupIngress, https response error StatusCode: 400, api error InvalidPermission.NotFound`:                                                                                                                                                                  false,
		`operation error IAM: DeleteRole, https response error StatusCode: 400, api error Throttling: Rate exceeded`:                                                                                                                                                                                   false,
		`deleting KMS Key: StatusCode: 5000 is no HTTP status`: false,
	} {
		if got := serverErrorPattern.MatchString(msg); got != want {
			t.Errorf("serverErrorPattern.MatchString(%q) = %v, want %v", msg, got, want)
		}
	}
}
