package awsx

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// maxFilterValues is how many values EC2 takes in one filter.
const maxFilterValues = 200

// DescribeInstances calls fn for each of the instances ids names that EC2
// knows. It asks by the instance-id filter, never by InstanceIds: EC2's API
// is eventually consistent, so an instance launched moments ago may answer
// InvalidInstanceID.NotFound for a while, and with InstanceIds one unknown
// id fails the whole call; a filter leaves that instance out instead.
func DescribeInstances(ctx context.Context, client ec2.DescribeInstancesAPIClient, ids []string, fn func(ec2types.Instance)) error {
	for chunk := range slices.Chunk(ids, maxFilterValues) {
		p := ec2.NewDescribeInstancesPaginator(client, &ec2.DescribeInstancesInput{
			Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: chunk}},
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return fmt.Errorf("describing instances %v: %w", chunk, err)
			}
			for _, r := range page.Reservations {
				for _, i := range r.Instances {
					fn(i)
				}
			}
		}
	}
	return nil
}

// LaunchedBefore returns, sorted, those of the instances ids names that EC2
// knows and that were launched before t (EC2's LaunchTime: the time the
// instance last started).
func LaunchedBefore(ctx context.Context, client ec2.DescribeInstancesAPIClient, ids []string, t time.Time) ([]string, error) {
	var before []string
	err := DescribeInstances(ctx, client, ids, func(i ec2types.Instance) {
		if i.LaunchTime != nil && i.LaunchTime.Before(t) {
			before = append(before, aws.ToString(i.InstanceId))
		}
	})
	if err != nil {
		return nil, err
	}
	slices.Sort(before)
	return before, nil
}
