package sweep

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// KindASG is the Auto Scaling kind.
const KindASG = "autoscaling:group"

func (l *lister) autoscalingGroups(ctx context.Context) error {
	p := autoscaling.NewDescribeAutoScalingGroupsPaginator(autoscaling.NewFromConfig(l.cfg), &autoscaling.DescribeAutoScalingGroupsInput{})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		for _, x := range out.AutoScalingGroups {
			m := tagMap(x.Tags, func(t astypes.TagDescription) (*string, *string) { return t.Key, t.Value })
			name := aws.ToString(x.AutoScalingGroupName)
			l.checkName("Auto Scaling group", name, m)
			if why := l.match(m, name); why != "" {
				l.add(Resource{Kind: KindASG, ID: name, ARN: aws.ToString(x.AutoScalingGroupARN), Name: name, Why: why})
			}
		}
	}
	return nil
}

func (d *deleter) autoscalingGroup(ctx context.Context, r Resource) error {
	if _, err := d.asg.DeleteAutoScalingGroup(ctx, &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(r.ID), ForceDelete: aws.Bool(true)}); err != nil {
		return err
	}
	return d.waitGone(ctx, "ASG "+r.ID, func() (bool, error) {
		out, err := d.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{r.ID}})
		return err == nil && len(out.AutoScalingGroups) == 0, err
	})
}
