package cluster

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/iam"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/exitcode"
)

// IAM counts roles, instance profiles and customer managed policies per
// account, across every region and every other workload in it: 1,000,
// 1,000 and 1,500 by default. An account that a company's single sign-on
// and its other stacks have filled refuses the cluster's roles with
// LimitExceeded, and the apply stops part way: the key, the buckets and
// the network are made by then. The emulator counts the same way, but
// holds only what its tests create. So up compares the plan's new IAM
// objects with GetAccountSummary, which answers usage and quota in one
// call, before anything is applied, and plan warns.

// iamQuota is one of the account's IAM quotas the cluster takes from.
type iamQuota struct {
	// resourceType is the Terraform resource type that takes from it.
	resourceType string
	// one and what name one object and several.
	one, what string
	// usage and quota are GetAccountSummary's keys for the count and the
	// quota.
	usage, quota string
	// name is the quota's name in Service Quotas, and code its quota code
	// where known.
	name, code string
}

var iamQuotas = []iamQuota{
	{"aws_iam_role", "IAM role", "IAM roles", "Roles", "RolesQuota", "Roles per account", "L-FE177D64"},
	{"aws_iam_instance_profile", "instance profile", "instance profiles", "InstanceProfiles", "InstanceProfilesQuota", "Instance profiles per account", ""},
	{"aws_iam_policy", "customer managed policy", "customer managed policies", "Policies", "PoliciesQuota", "Customer managed policies per account", "L-E95E4862"},
}

// IAMSummaryReader is the IAM call the check makes.
type IAMSummaryReader interface {
	GetAccountSummary(context.Context, *iam.GetAccountSummaryInput, ...func(*iam.Options)) (*iam.GetAccountSummaryOutput, error)
}

// IAMShortfall is an IAM quota the plan's new objects would pass.
type IAMShortfall struct {
	// What names the plan's new objects ("2 IAM roles": "IAM roles").
	What, Name, Code  string
	Need, Used, Quota int
}

// Message is the shortfall as one line for the operator: what the plan
// creates, what the account holds, where the apply would stop, and how to
// get more.
func (s IAMShortfall) Message(env string) string {
	ask := fmt.Sprintf("ask for more in Service Quotas (IAM, %q; IAM's quotas are requested in us-east-1)", s.Name)
	if s.Code != "" {
		ask = fmt.Sprintf("ask for more: aws service-quotas request-service-quota-increase --region us-east-1 --service-code iam --quota-code %s --desired-value %d", s.Code, s.Used+s.Need)
	}
	return fmt.Sprintf("%s's plan creates %d %s, and the account already holds %d of its quota of %d (%q): "+
		"the apply would fail at the first one past it with LimitExceeded, leaving what it created before. Delete unused ones (aws iam get-account-summary counts them), or %s",
		env, s.Need, s.What, s.Used, s.Quota, s.Name, ask)
}

// iamNeed counts what the plan creates of each IAM quota's resource type:
// a create, or a replacement that creates before it destroys (which holds
// both for a moment). A replacement that destroys first frees its own.
func iamNeed(plan *tfjson.Plan) map[string]int {
	need := map[string]int{}
	for _, rc := range plan.ResourceChanges {
		if rc.Mode != tfjson.ManagedResourceMode || rc.Change == nil {
			continue
		}
		if rc.Change.Actions.Create() || rc.Change.Actions.CreateBeforeDestroy() {
			need[rc.Type]++
		}
	}
	return need
}

// CheckIAMQuotas returns the IAM quotas the plan's new objects would
// pass. A plan that creates no IAM object reads nothing; a key the summary
// lacks is not compared.
func CheckIAMQuotas(ctx context.Context, api IAMSummaryReader, plan *tfjson.Plan) ([]IAMShortfall, error) {
	need := iamNeed(plan)
	creates := false
	for _, q := range iamQuotas {
		creates = creates || need[q.resourceType] > 0
	}
	if !creates {
		return nil, nil
	}
	out, err := api.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return nil, fmt.Errorf("reading the account's IAM quotas (iam:GetAccountSummary): %w", err)
	}
	var short []IAMShortfall
	for _, q := range iamQuotas {
		n := need[q.resourceType]
		used, hasUsed := out.SummaryMap[q.usage]
		quota, hasQuota := out.SummaryMap[q.quota]
		if n == 0 || !hasUsed || !hasQuota {
			continue
		}
		if int(used)+n > int(quota) {
			what := q.what
			if n == 1 {
				what = q.one
			}
			short = append(short, IAMShortfall{What: what, Name: q.name, Code: q.code, Need: n, Used: int(used), Quota: int(quota)})
		}
	}
	return short, nil
}

// checkIAMQuotas runs CheckIAMQuotas on the saved plan for up (refuse: a
// shortfall stops the command before anything is applied) or plan (a
// warning); a failed read is a note, never a failure of the command.
func (e *Env) checkIAMQuotas(ctx context.Context, plan *tfjson.Plan, refuse bool) error {
	cfg, err := e.AWSConfig(ctx)
	var short []IAMShortfall
	if err == nil {
		short, err = CheckIAMQuotas(ctx, iam.NewFromConfig(cfg), plan)
	}
	if err != nil {
		e.opts.UI.Notef("note: the account's IAM quotas (roles, instance profiles, policies) were not checked: %v\n", err)
		return nil
	}
	var lines []string
	for _, s := range short {
		lines = append(lines, s.Message(e.Name))
	}
	return e.shortfalls(lines, refuse)
}

// shortfalls refuses the command with lines, one quota each (refuse: up,
// before anything is applied), or prints each as a warning (plan).
func (e *Env) shortfalls(lines []string, refuse bool) error {
	switch {
	case len(lines) == 0:
		return nil
	case refuse:
		return exitcode.Failuref("%s", strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		e.opts.UI.Notef("warning: %s\n", l)
	}
	return nil
}
