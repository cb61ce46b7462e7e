package sweep

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// KindEventRule is the EventBridge kind: the rules that feed the node
// events queue (their targets go with them).
const KindEventRule = "events:rule"

// eventRules lists the cluster's rules on the default event bus; the ID is
// the rule name (Terraform's id on the default bus). A rule whose name
// does not match costs one more call for its tags.
func (l *lister) eventRules(ctx context.Context) error {
	c := eventbridge.NewFromConfig(l.cfg)
	in := &eventbridge.ListRulesInput{}
	for {
		out, err := c.ListRules(ctx, in)
		if err != nil {
			return err
		}
		for _, r := range out.Rules {
			name := aws.ToString(r.Name)
			tags, err := c.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: r.Arn})
			if isNotFound(err) {
				continue // deleted since the listing
			}
			if err != nil {
				return fmt.Errorf("tags of rule %s: %w", name, err)
			}
			m := tagMap(tags.Tags, func(t ebtypes.Tag) (*string, *string) { return t.Key, t.Value })
			if why := l.match(m, name); why != "" {
				l.add(Resource{Kind: KindEventRule, ID: name, ARN: aws.ToString(r.Arn), Name: name, Why: why})
			}
		}
		if aws.ToString(out.NextToken) == "" {
			return nil
		}
		in.NextToken = out.NextToken
	}
}

// eventRule removes the rule's targets (EventBridge refuses to delete a
// rule that has any), then the rule.
func (d *deleter) eventRule(ctx context.Context, r Resource) error {
	for {
		out, err := d.events.ListTargetsByRule(ctx, &eventbridge.ListTargetsByRuleInput{Rule: aws.String(r.ID)})
		if err != nil {
			return err
		}
		if len(out.Targets) == 0 {
			break
		}
		ids := make([]string, len(out.Targets))
		for i, t := range out.Targets {
			ids[i] = aws.ToString(t.Id)
		}
		rm, err := d.events.RemoveTargets(ctx, &eventbridge.RemoveTargetsInput{Rule: aws.String(r.ID), Ids: ids, Force: true})
		if err != nil {
			return fmt.Errorf("removing the targets of rule %s: %w", r.ID, err)
		}
		if rm.FailedEntryCount > 0 {
			return fmt.Errorf("removing the targets of rule %s: %d failed", r.ID, rm.FailedEntryCount)
		}
	}
	_, err := d.events.DeleteRule(ctx, &eventbridge.DeleteRuleInput{Name: aws.String(r.ID), Force: true})
	return err
}
