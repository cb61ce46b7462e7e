package cluster

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/kforge/kforge/internal/sweep"
	"github.com/kforge/kforge/internal/tfrun"
)

// Security group rules live inside a group that is in the state, so the
// orphan check does not see them; yet an apply whose AWS answer was lost
// (a killed run, a dropped connection, an emulator hiccup) leaves a rule
// that exists without being recorded, and every later plan fails on
// InvalidPermission.Duplicate. Such a rule has exactly the attributes of a
// rule the plan creates, so it is adopted through an import block.
var ruleTypes = map[string]bool{
	"aws_vpc_security_group_ingress_rule": true,
	"aws_vpc_security_group_egress_rule":  true,
}

// plannedRule is the identity of a security group rule: what AWS refuses to
// hold twice in one group.
type plannedRule struct {
	Group, Protocol, CIDRv4, CIDRv6, RefGroup, PrefixList string
	From, To                                              int64
	Egress                                                bool
}

// unrecordedRules maps the address of each security group rule the plan
// creates to an existing rule with the same identity that the state does
// not hold, each existing rule to the first such create in plan order.
// describe lists a group's rules.
func unrecordedRules(plan *tfjson.Plan, describe func(group string) ([]ec2types.SecurityGroupRule, error)) (map[string]sweep.Resource, error) {
	recorded := recordedRuleIDs(plan)
	byGroup := map[string][]string{} // group => addresses of planned creates
	planned := map[string]plannedRule{}
	for _, rc := range plan.ResourceChanges {
		if !ruleTypes[rc.Type] || rc.Change == nil || !rc.Change.Actions.Create() {
			continue
		}
		after, ok := rc.Change.After.(map[string]any)
		if !ok {
			continue
		}
		group, _ := after["security_group_id"].(string)
		if group == "" { // the group itself is still to be created
			continue
		}
		planned[rc.Address] = plannedRule{
			Group: group, Egress: rc.Type == "aws_vpc_security_group_egress_rule",
			Protocol: str(after["ip_protocol"]), CIDRv4: str(after["cidr_ipv4"]), CIDRv6: str(after["cidr_ipv6"]),
			RefGroup: str(after["referenced_security_group_id"]), PrefixList: str(after["prefix_list_id"]),
			From: port(after["from_port"]), To: port(after["to_port"]),
		}
		byGroup[group] = append(byGroup[group], rc.Address)
	}
	adopt := map[string]sweep.Resource{}
	groups := make([]string, 0, len(byGroup))
	for g := range byGroup {
		groups = append(groups, g)
	}
	sort.Strings(groups)
	for _, g := range groups {
		existing, err := describe(g)
		if err != nil {
			return nil, fmt.Errorf("listing the rules of security group %s: %w", g, err)
		}
		taken := map[string]bool{}
		for _, addr := range byGroup[g] {
			want := planned[addr]
			for _, r := range existing {
				id := aws.ToString(r.SecurityGroupRuleId)
				if recorded[id] || taken[id] || ruleIdentity(r) != want {
					continue
				}
				taken[id] = true
				adopt[addr] = sweep.Resource{Kind: "security-group-rule", ID: id, Parent: g, Why: "same rule as planned, not in the state"}
				break
			}
		}
	}
	return adopt, nil
}

// recordedRuleIDs are the ids of the security group rules in the state the
// plan was made from.
func recordedRuleIDs(plan *tfjson.Plan) map[string]bool {
	ids := map[string]bool{}
	if plan.PriorState == nil || plan.PriorState.Values == nil {
		return ids
	}
	var walk func(m *tfjson.StateModule)
	walk = func(m *tfjson.StateModule) {
		for _, r := range m.Resources {
			if ruleTypes[r.Type] {
				if id, ok := r.AttributeValues["id"].(string); ok {
					ids[id] = true
				}
			}
		}
		for _, c := range m.ChildModules {
			walk(c)
		}
	}
	walk(plan.PriorState.Values.RootModule)
	return ids
}

// ruleIdentity is the identity of a rule as EC2 describes it. AWS reports
// -1 for the ports of an all-protocols rule, which Terraform plans as null.
func ruleIdentity(r ec2types.SecurityGroupRule) plannedRule {
	p := plannedRule{
		Group: aws.ToString(r.GroupId), Egress: aws.ToBool(r.IsEgress), Protocol: aws.ToString(r.IpProtocol),
		CIDRv4: aws.ToString(r.CidrIpv4), CIDRv6: aws.ToString(r.CidrIpv6), PrefixList: aws.ToString(r.PrefixListId),
		From: int64(aws.ToInt32(r.FromPort)), To: int64(aws.ToInt32(r.ToPort)),
	}
	if r.ReferencedGroupInfo != nil {
		p.RefGroup = aws.ToString(r.ReferencedGroupInfo.GroupId)
	}
	if p.Protocol == "-1" {
		p.From, p.To = 0, 0
	}
	return p
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

// port reads a planned port: a JSON number, or null for all-protocol rules.
func port(v any) int64 {
	if f, ok := v.(float64); ok {
		return int64(f)
	}
	return 0
}

// adoptUnrecordedRules is up's check after planning: when the plan creates
// security group rules that already exist unrecorded, it writes import
// blocks for them and reports true, so the caller plans again.
func (e *Env) adoptUnrecordedRules(ctx context.Context, r *tfrun.Runner, plan *tfjson.Plan) (bool, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return false, err
	}
	client := ec2.NewFromConfig(cfg)
	adopt, err := unrecordedRules(plan, func(group string) ([]ec2types.SecurityGroupRule, error) {
		var rules []ec2types.SecurityGroupRule
		pages := ec2.NewDescribeSecurityGroupRulesPaginator(client, &ec2.DescribeSecurityGroupRulesInput{
			Filters: []ec2types.Filter{{Name: aws.String("group-id"), Values: []string{group}}},
		})
		for pages.HasMorePages() {
			page, err := pages.NextPage(ctx)
			if err != nil {
				return nil, err
			}
			rules = append(rules, page.SecurityGroupRules...)
		}
		return rules, nil
	})
	if err != nil || len(adopt) == 0 {
		return false, err
	}
	return true, e.writeImports(ctx, r, adopt, "whose creation was never recorded")
}

// applyRecoveringLostCreates applies plan. When the apply fails because
// something it creates already exists, the answer to an earlier create was
// lost (the SDK retried a request whose first attempt had succeeded; on the
// emulator, the race in docs/EMULATOR-NOTES.md). up heals what it can and
// applies the rest, at most maxLostCreateRecoveries times:
//   - a security group rule (InvalidPermission.Duplicate) is adopted
//     through an import block, as after planning;
//   - any other resource is an orphan of this run, not in the state and
//     found as the orphan check finds one (its cluster tag, or for an
//     untagged bucket kforge's full bucket name), removed as a killed
//     apply's orphans are.
//
// Two failures need no healing, only one more plan and apply: a call that
// still failed with a server error after the SDK's retries, and a role
// added again to the instance profile that holds it (lostAttachCode; the
// profile is left tainted, and the next plan replaces it).
//
// When nothing was found to heal (the name is taken by something that is
// not this cluster's, or by a hosted zone, tagged only after its create),
// the apply's error is returned as it is.
// The plans after a failure are saved where plan was, with the same
// -replace addresses (a roll's new image), and each passes check before it
// is applied: the user confirmed plan, not what a replan may add to it.
func (e *Env) applyRecoveringLostCreates(ctx context.Context, r *tfrun.Runner, plan *tfrun.PlanResult, replace []string, check func(*tfrun.PlanResult) error, progress func(tfrun.Progress)) error {
	err := r.Apply(ctx, plan, progress)
	retried := false
	for range maxLostCreateRecoveries {
		if err == nil {
			return nil
		}
		rules, others := lostCreates(err)
		healed := 0
		if others {
			e.opts.UI.Notef("A resource the apply creates already existed without being recorded (the answer to its create was lost); removing this cluster's unrecorded resources, then applying the rest.\n")
			n, herr := e.removeOrphans(ctx, r)
			if herr != nil {
				return errors.Join(err, herr)
			}
			healed += n
		}
		if rules {
			adopted, herr := e.adoptRulesAfterApply(ctx, r, plan.File, replace)
			if herr != nil {
				return errors.Join(err, herr)
			}
			if adopted {
				healed++
			}
		}
		if healed == 0 {
			what := retryableApplyError(err)
			if what == "" || retried {
				return err
			}
			retried = true
			e.opts.UI.Notef("The apply failed on %s; planning again and applying the rest.\n", what)
		}
		again, perr := r.PlanReplacing(ctx, plan.File, false, replace...)
		if perr != nil {
			return errors.Join(err, perr)
		}
		if cerr := check(again); cerr != nil {
			return errors.Join(err, cerr)
		}
		err = r.Apply(ctx, again, progress)
	}
	return err
}

// maxLostCreateRecoveries bounds the heal-and-apply rounds of one up: each
// round must heal something or be the one retry, and a lost answer is rare
// enough that more than a few in a row means something else is wrong.
const maxLostCreateRecoveries = 3

// lostCreateCode matches the AWS error codes with which a create meets its
// own earlier attempt, for the kinds of resource the cluster names: EC2
// security groups and launch templates, IAM roles, instance profiles and
// policies, Auto Scaling groups, the KMS alias, the EFS file system (same
// creation token), a bucket outside us-east-1 (in us-east-1 S3 answers
// success). The SDK writes a code as "api error <code>: ..." or, for an
// error its service models, "<code>: ...". Hosted zones are not among
// them: a zone is named after the domain and tagged in a second request,
// so an unrecorded one cannot be told from someone else's.
var lostCreateCode = regexp.MustCompile(`\b(InvalidGroup\.Duplicate|InvalidLaunchTemplateName\.AlreadyExistsException|EntityAlreadyExists|AlreadyExists|AlreadyExistsException|FileSystemAlreadyExists|BucketAlreadyOwnedByYou):`)

// lostAttachCode matches IAM's answer to a second AddRoleToInstanceProfile
// for a profile that already holds its role (a profile takes one): what
// the SDK's retry gets when the first attempt's answer was lost.
var lostAttachCode = regexp.MustCompile(`LimitExceeded: Cannot exceed quota for InstanceSessionsPerInstanceProfile`)

// retryableApplyError says which failure of an apply one more plan and
// apply may get past, or "" for none.
func retryableApplyError(err error) string {
	switch msg := err.Error(); {
	case lostAttachCode.MatchString(msg):
		return "a role added again to its instance profile (the answer to the first add was lost)"
	case serverErrorPattern.MatchString(msg):
		return "a server error (" + serverErrorPattern.FindString(msg) + ")"
	}
	return ""
}

// lostRuleCode is the code of a security group rule that already exists.
var lostRuleCode = regexp.MustCompile(`\bInvalidPermission\.Duplicate:`)

// lostCreates classifies an apply's error: rules is true when a create met
// a security group rule that already existed, others when it met another
// named resource.
func lostCreates(err error) (rules, others bool) {
	if err == nil {
		return false, false
	}
	return lostRuleCode.MatchString(err.Error()), lostCreateCode.MatchString(err.Error())
}

// adoptRulesAfterApply plans again after a failed apply and adopts the
// security group rules whose creation was never recorded.
func (e *Env) adoptRulesAfterApply(ctx context.Context, r *tfrun.Runner, planFile string, replace []string) (bool, error) {
	plan, err := r.PlanReplacing(ctx, planFile, false, replace...)
	if err != nil {
		return false, err
	}
	full, err := r.FullPlan(ctx, plan)
	if err != nil {
		return false, err
	}
	adopted, err := e.adoptUnrecordedRules(ctx, r, full)
	if adopted {
		e.opts.UI.Notef("A security group rule existed without being recorded; adopted it.\n")
	}
	return adopted, err
}
