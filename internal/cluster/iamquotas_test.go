package cluster

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/exitcode"
	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/testutil/fixture"
)

// prodFirstPlan is a real first plan of prod (internal/cost's fixture,
// planned by Terraform against the emulator).
func prodFirstPlan(t *testing.T) *tfjson.Plan {
	t.Helper()
	return fixture.Plan(t, filepath.Join("..", "cost", "testdata", "plans", "prod.plan.json.gz"))
}

// A first plan creates the cluster's two roles, two instance profiles,
// one policy per document, its load balancer and two target groups; a
// replacement counts only when it creates before it destroys.
func TestPlanCreates(t *testing.T) {
	want := map[string]int{"aws_iam_role": 2, "aws_iam_instance_profile": 2, "aws_iam_policy": 5, "aws_lb": 1, "aws_lb_target_group": 2}
	need := planCreates(prodFirstPlan(t))
	for typ, n := range want {
		if need[typ] != n {
			t.Errorf("prod's first plan creates %d %s, want %d", need[typ], typ, n)
		}
	}
	change := func(typ string, actions ...tfjson.Action) *tfjson.ResourceChange {
		return &tfjson.ResourceChange{Type: typ, Mode: tfjson.ManagedResourceMode, Change: &tfjson.Change{Actions: actions}}
	}
	plan := &tfjson.Plan{ResourceChanges: []*tfjson.ResourceChange{
		change("aws_iam_role", tfjson.ActionCreate, tfjson.ActionDelete),
		change("aws_iam_role", tfjson.ActionDelete, tfjson.ActionCreate),
		change("aws_iam_policy", tfjson.ActionUpdate),
		change("aws_iam_instance_profile", tfjson.ActionNoop),
		{Type: "aws_iam_role", Mode: tfjson.DataResourceMode, Change: &tfjson.Change{Actions: tfjson.Actions{tfjson.ActionRead}}},
	}}
	if got := planCreates(plan); !reflect.DeepEqual(got, map[string]int{"aws_iam_role": 1}) {
		t.Errorf("planCreates = %v, want one role (the replacement that creates first)", got)
	}
}

// countingSummary counts the GetAccountSummary calls made through it.
type countingSummary struct {
	IAMSummaryReader
	calls int
}

func (c *countingSummary) GetAccountSummary(ctx context.Context, in *iam.GetAccountSummaryInput, opts ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error) {
	c.calls++
	return c.IAMSummaryReader.GetAccountSummary(ctx, in, opts...)
}

// The emulator answers GetAccountSummary with IAM's default quotas and
// what it holds. With 998 roles of others the cluster's two fit; with 999
// up refuses before anything is applied, naming the quota and the
// request that raises it, and plan warns.
func TestCheckIAMQuotasAgainstEmulator(t *testing.T) {
	cfg, em := localawstest.ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	client := iam.NewFromConfig(cfg)
	summary, err := client.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		t.Fatal(err)
	}
	if q := summary.SummaryMap["RolesQuota"]; q != 1000 {
		t.Fatalf("the emulator's RolesQuota is %d; this test fills a quota of 1000", q)
	}
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"sts:AssumeRole","Principal":{"Service":"ec2.amazonaws.com"}}]}`
	made := 0
	roles := func(n int) {
		t.Helper()
		for range n {
			made++
			name := fmt.Sprintf("someone-else-%d", made)
			// A retried create whose first attempt went through finds
			// the role there: it counts the same.
			var exists *iamtypes.EntityAlreadyExistsException
			if _, err := client.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String(name), AssumeRolePolicyDocument: aws.String(trust)}); err != nil && !errors.As(err, &exists) {
				t.Fatal(err)
			}
		}
	}
	roles(998 - int(summary.SummaryMap["Roles"]))

	plan := prodFirstPlan(t)
	creates := planCreates(plan)
	api := &countingSummary{IAMSummaryReader: client}
	if short, err := CheckIAMQuotas(ctx, api, creates); err != nil || len(short) != 0 {
		t.Fatalf("998 roles of others and the cluster's 2: got %+v, %v; want no shortfall", short, err)
	}
	if short, err := CheckIAMQuotas(ctx, api, map[string]int{"aws_lb": 1}); err != nil || short != nil || api.calls != 1 {
		t.Errorf("a plan creating no IAM object: got %+v, %v after %d reads; want nothing read", short, err, api.calls)
	}

	roles(1)
	short, err := CheckIAMQuotas(ctx, client, creates)
	want := []PlanShortfall{{What: "IAM roles", Name: "Roles per account", Service: "iam", Code: "L-FE177D64",
		Holder: "the account", RequestRegion: "us-east-1", Fails: "LimitExceeded", Need: 2, Used: 999, Quota: 1000}}
	if err != nil || !reflect.DeepEqual(short, want) {
		t.Fatalf("999 roles of others: got %+v, %v; want %+v", short, err, want)
	}
	msg := short[0].Message("prod")
	for _, part := range []string{
		`prod's plan creates 2 IAM roles, and the account already holds 999 of its quota of 1000 ("Roles per account")`,
		"LimitExceeded",
		"aws service-quotas request-service-quota-increase --region us-east-1 --service-code iam --quota-code L-FE177D64 --desired-value 1001",
	} {
		if !strings.Contains(msg, part) {
			t.Errorf("message lacks %q:\n%s", part, msg)
		}
	}

	doc, err := os.ReadFile("../../docs/OPERATIONS.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "\nError: "+msg+"\n") {
		t.Errorf("docs/OPERATIONS.md does not show the refusal as up prints it:\n%s", msg)
	}

	ui := &recordingUI{}
	e := &Env{Name: "prod", Config: &config.Cluster{Name: "prod", Region: "us-east-1"}, awsCfg: &cfg, opts: Options{UI: ui}}
	err = e.checkPlanQuotas(ctx, plan, true)
	var ee *exitcode.Error
	if !errors.As(err, &ee) || ee.Code != exitcode.Failure || err.Error() != msg {
		t.Fatalf("up with a full role quota: want a failure with the message, got %v", err)
	}
	if err := e.checkPlanQuotas(ctx, plan, false); err != nil {
		t.Fatalf("plan with a full role quota failed: %v", err)
	}
	if len(ui.notes) != 1 || ui.notes[0] != "warning: "+msg+"\n" {
		t.Errorf("plan printed %q, want the one warning", ui.notes)
	}

	roles(1)
	if short, err := CheckIAMQuotas(ctx, client, map[string]int{"aws_iam_role": 1}); err != nil || len(short) != 1 || !strings.HasPrefix(short[0].Message("prod"), "prod's plan creates 1 IAM role, and the account already holds 1000 of") {
		t.Errorf("one role past a full quota: got %+v, %v", short, err)
	}

	if err := em.Stop(); err != nil {
		t.Fatal(err)
	}
	ui.notes = nil
	if err := e.checkPlanQuotas(ctx, plan, true); err != nil {
		t.Fatalf("an unreadable summary failed up: %v", err)
	}
	if len(ui.notes) != 2 || !strings.Contains(ui.notes[0], "note: the account's IAM quotas (roles, instance profiles, policies) were not checked") ||
		!strings.Contains(ui.notes[0], "iam:GetAccountSummary") || !strings.Contains(ui.notes[1], "elasticloadbalancing:DescribeAccountLimits") {
		t.Errorf("want a note for each check naming its permission, got %q", ui.notes)
	}
}

// A quota without a known code points at Service Quotas by its name.
func TestPlanShortfallWithoutCode(t *testing.T) {
	s := PlanShortfall{What: "instance profiles", Name: "Instance profiles per account", Service: "iam", Holder: "the account", RequestRegion: "us-east-1",
		Fails: "LimitExceeded", Need: 2, Used: 1000, Quota: 1000}
	msg := s.Message("dev")
	if !strings.Contains(msg, `ask for more in Service Quotas (service iam, "Instance profiles per account", in us-east-1)`) || strings.Contains(msg, "--quota-code") {
		t.Errorf("message = %s", msg)
	}
}
