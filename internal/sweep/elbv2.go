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
	out, err := c.DescribeLoadBalancers(ctx, &elbv2.DescribeLoadBalancersInput{})
	if err != nil {
		return err
	}
	for _, x := range out.LoadBalancers {
		arn, name, vpc := aws.ToString(x.LoadBalancerArn), aws.ToString(x.LoadBalancerName), aws.ToString(x.VpcId)
		tags, err := elbTags(ctx, c, arn)
		if err != nil {
			return err
		}
		if why := l.matchInVPC(tags, name, vpc); why != "" {
			l.add(Resource{Kind: KindLoadBalancer, ID: arn, ARN: arn, Name: name, Parent: vpc, Why: why})
			// ENI descriptions name the balancer as "ELB net/<name>/<id>".
			if i := strings.Index(arn, ":loadbalancer/"); i >= 0 {
				l.lbs["ELB "+arn[i+len(":loadbalancer/"):]] = arn
			}
		}
	}
	return nil
}

func (l *lister) targetGroups(ctx context.Context) error {
	c := elbv2.NewFromConfig(l.cfg)
	out, err := c.DescribeTargetGroups(ctx, &elbv2.DescribeTargetGroupsInput{})
	if err != nil {
		return err
	}
	for _, x := range out.TargetGroups {
		arn, name, vpc := aws.ToString(x.TargetGroupArn), aws.ToString(x.TargetGroupName), aws.ToString(x.VpcId)
		tags, err := elbTags(ctx, c, arn)
		if err != nil {
			return err
		}
		if why := l.matchInVPC(tags, name, vpc); why != "" {
			l.add(Resource{Kind: KindTargetGroup, ID: arn, ARN: arn, Name: name, Parent: vpc, Why: why})
		}
	}
	return nil
}

func elbTags(ctx context.Context, c *elbv2.Client, arn string) (map[string]string, error) {
	out, err := c.DescribeTags(ctx, &elbv2.DescribeTagsInput{ResourceArns: []string{arn}})
	if err != nil {
		return nil, fmt.Errorf("tags of %s: %w", arn, err)
	}
	var tags []elbv2types.Tag
	for _, d := range out.TagDescriptions {
		tags = append(tags, d.Tags...)
	}
	return tagMap(tags, func(t elbv2types.Tag) (*string, *string) { return t.Key, t.Value }), nil
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
