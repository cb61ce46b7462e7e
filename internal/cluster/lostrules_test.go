package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/tfrun"
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

// A volume the EFS CSI driver provisions after down deleted the access
// points, before the nodes are gone, makes AWS refuse the file system's
// delete. The emulator deletes such a file system anyway, so the refusal
// is played by destroySteps; the access points are the emulator's. They
// are deleted and the destroy runs once more, once: a second refusal, or
// one with no access point to blame, is returned as it is.
func TestDestroyDeletesAccessPointsMadeDuringIt(t *testing.T) {
	ctx := context.Background()
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	c := efs.NewFromConfig(cfg)
	fsID := localawstest.CreateFileSystem(ctx, t, c, &efs.CreateFileSystemInput{CreationToken: aws.String("kforge-test-efs")})
	makeAccessPoints := func(n int) {
		t.Helper()
		for i := range n {
			if _, err := c.CreateAccessPoint(ctx, &efs.CreateAccessPointInput{FileSystemId: aws.String(fsID), ClientToken: aws.String(fmt.Sprintf("pvc-%d-%d", n, i))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	accessPoints := func() int {
		t.Helper()
		out, err := c.DescribeAccessPoints(ctx, &efs.DescribeAccessPointsInput{FileSystemId: aws.String(fsID)})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.AccessPoints)
	}
	refused := fmt.Errorf("deleting EFS File System (%s): operation error EFS: DeleteFileSystem, https response error StatusCode: 409, api error FileSystemInUse", fsID)
	st := &tfjson.State{Values: &tfjson.StateValues{RootModule: &tfjson.StateModule{ChildModules: []*tfjson.StateModule{{Resources: []*tfjson.StateResource{
		{Address: "module.storage.aws_efs_file_system.this", Mode: tfjson.ManagedResourceMode, Type: "aws_efs_file_system", AttributeValues: map[string]any{"id": fsID}},
	}}}}}}

	for _, tc := range []struct {
		name       string
		made       int     // access points the cluster makes during the destroy
		results    []error // what each destroy returns
		wantErr    bool
		wantSwept  int
		wantRounds int
	}{
		{name: "made during the destroy", made: 2, results: []error{refused, nil}, wantSwept: 2, wantRounds: 2},
		{name: "refused again", made: 1, results: []error{refused, refused}, wantErr: true, wantSwept: 1, wantRounds: 2},
		{name: "nothing to blame", results: []error{refused}, wantErr: true, wantRounds: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ui := &recordingUI{}
			e := &Env{Name: "test", Config: &config.Cluster{Name: "kforge-test"}, awsCfg: &cfg, opts: Options{UI: ui}}
			d := &destroySteps{state: st, results: tc.results, before: func(round int) {
				if round == 0 {
					makeAccessPoints(tc.made)
				} else if n := accessPoints(); n != 0 {
					t.Errorf("destroy round %d began with %d access points left", round+1, n)
				}
			}}
			swept, err := e.destroyRecoveringLostAnswers(ctx, d, 5, nil)
			if (err != nil) != tc.wantErr || (err != nil && !errors.Is(err, refused)) {
				t.Fatalf("err = %v, want the refusal: %v", err, tc.wantErr)
			}
			if len(swept) != tc.wantSwept || d.round != tc.wantRounds {
				t.Fatalf("swept %v in %d destroys, want %d access points in %d", swept, d.round, tc.wantSwept, tc.wantRounds)
			}
			if tc.wantSwept > 0 && !strings.Contains(strings.Join(ui.notes, ""), "provisioned "+fmt.Sprint(tc.made)+" more volumes") {
				t.Errorf("down did not say why it deleted access points: %q", ui.notes)
			}
		})
	}
}

// destroySteps stands in for terraform where the emulator cannot: each
// Destroy returns the next of results, after before(round).
type destroySteps struct {
	state   *tfjson.State
	results []error
	before  func(round int)
	round   int
}

func (d *destroySteps) Destroy(context.Context, int, func(tfrun.Progress)) error {
	d.before(d.round)
	err := d.results[d.round]
	d.round++
	return err
}

func (d *destroySteps) State(context.Context) (*tfjson.State, error) { return d.state, nil }

func (d *destroySteps) StateRm(context.Context, ...string) error { return nil }
