package sweep

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
)

// Elastic Load Balancing kinds.
const (
	KindLoadBalancer = "elbv2:load-balancer"
	KindTargetGroup  = "elbv2:target-group"
)

func (l *lister) loadBalancers(ctx context.Context) error {
	c := elbv2.NewFromConfig(l.cfg)
	p := elbv2.NewDescribeLoadBalancersPaginator(c, &elbv2.DescribeLoadBalancersInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		arns := make([]string, 0, len(out.LoadBalancers))
		for _, x := range out.LoadBalancers {
			arns = append(arns, aws.ToString(x.LoadBalancerArn))
		}
		tags, err := elbTags(ctx, c, arns)
		if err != nil {
			return err
		}
		for _, x := range out.LoadBalancers {
			arn, name, vpc := aws.ToString(x.LoadBalancerArn), aws.ToString(x.LoadBalancerName), aws.ToString(x.VpcId)
			t, listed := tags[arn]
			if !listed {
				continue // deleted since the listing
			}
			if why := l.matchInVPC(t, name, vpc); why != "" {
				l.add(Resource{Kind: KindLoadBalancer, ID: arn, ARN: arn, Name: name, Parent: vpc, Why: why})
				// ENI descriptions name the balancer as "ELB net/<name>/<id>".
				if i := strings.Index(arn, ":loadbalancer/"); i >= 0 {
					l.lbs["ELB "+arn[i+len(":loadbalancer/"):]] = arn
				}
			}
		}
	}
	return nil
}

func (l *lister) targetGroups(ctx context.Context) error {
	c := elbv2.NewFromConfig(l.cfg)
	p := elbv2.NewDescribeTargetGroupsPaginator(c, &elbv2.DescribeTargetGroupsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		arns := make([]string, 0, len(out.TargetGroups))
		for _, x := range out.TargetGroups {
			arns = append(arns, aws.ToString(x.TargetGroupArn))
		}
		tags, err := elbTags(ctx, c, arns)
		if err != nil {
			return err
		}
		for _, x := range out.TargetGroups {
			arn, name, vpc := aws.ToString(x.TargetGroupArn), aws.ToString(x.TargetGroupName), aws.ToString(x.VpcId)
			t, listed := tags[arn]
			if !listed {
				continue // deleted since the listing
			}
			if why := l.matchInVPC(t, name, vpc); why != "" {
				l.add(Resource{Kind: KindTargetGroup, ID: arn, ARN: arn, Name: name, Parent: vpc, Why: why})
			}
		}
	}
	return nil
}

// elbTagsBatch is the most ARNs DescribeTags takes in one call.
const elbTagsBatch = 20

// elbTags returns the tags of each of arns, keyed by ARN; a resource
// deleted since it was listed is left out.
func elbTags(ctx context.Context, c *elbv2.Client, arns []string) (map[string]map[string]string, error) {
	return tagsInBatches(arns, elbTagsBatch, func(batch []string) (map[string]map[string]string, error) {
		out, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: batch})
		if err != nil {
			return nil, fmt.Errorf("tags of %d resources from %s: %w", len(batch), batch[0], err)
		}
		tags := make(map[string]map[string]string, len(batch))
		for _, d := range out.TagDescriptions {
			tags[aws.ToString(d.ResourceArn)] = tagMap(d.Tags, func(t elbv2types.Tag) (*string, *string) { return t.Key, t.Value })
		}
		return tags, nil
	})
}

func (d *deleter) loadBalancer(ctx context.Context, r Resource) error {
	if _, err := d.elb.DeleteLoadBalancer(ctx, &elbv2.DeleteLoadBalancerInput{LoadBalancerArn: aws.String(r.ID)}); err != nil {
		return err
	}
	return d.waitGone(ctx, "load balancer "+r.Name, func() (bool, error) {
		_, err := d.elb.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{LoadBalancerArns: []string{r.ID}})
		return false, err
	})
}

func (d *deleter) targetGroup(ctx context.Context, r Resource) error {
	return d.retry(ctx, func() error {
		_, err := d.elb.DeleteTargetGroup(ctx, &elbv2.DeleteTargetGroupInput{TargetGroupArn: aws.String(r.ID)})
		return err
	})
}
