package cluster

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// IAM counts roles, instance profiles and customer managed policies per
// account, across every region and every other workload in it: 1,000,
// 1,000 and 1,500 by default. An account that a company's single sign-on
// and its other stacks have filled refuses the cluster's roles with
// LimitExceeded. GetAccountSummary answers usage and quota in one call.

// iamQuota is one of the account's IAM quotas the cluster takes from.
type iamQuota struct {
	// resourceType is the Terraform resource type that takes from it.
	resourceType string
	// one and several name one object and more.
	one, several string
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

// CheckIAMQuotas returns the IAM quotas that creates (planCreates) would
// pass. A plan that creates no IAM object reads nothing; a key the summary
// lacks is not compared.
func CheckIAMQuotas(ctx context.Context, api IAMSummaryReader, creates map[string]int) ([]PlanShortfall, error) {
	needed := false
	for _, q := range iamQuotas {
		needed = needed || creates[q.resourceType] > 0
	}
	if !needed {
		return nil, nil
	}
	out, err := api.GetAccountSummary(ctx, &iam.GetAccountSummaryInput{})
	if err != nil {
		return nil, fmt.Errorf("reading them (iam:GetAccountSummary): %w", err)
	}
	var short []PlanShortfall
	for _, q := range iamQuotas {
		n := creates[q.resourceType]
		used, hasUsed := out.SummaryMap[q.usage]
		quota, hasQuota := out.SummaryMap[q.quota]
		if n == 0 || !hasUsed || !hasQuota || int(used)+n <= int(quota) {
			continue
		}
		short = append(short, PlanShortfall{
			What: plural(n, q.one, q.several), Name: q.name, Service: "iam", Code: q.code,
			// IAM is global: its quotas are asked for in us-east-1.
			Holder: "the account", RequestRegion: "us-east-1", Fails: "LimitExceeded",
			Need: n, Used: int(used), Quota: int(quota),
		})
	}
	return short, nil
}
