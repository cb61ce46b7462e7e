package awsx

import (
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// maxGroupNames is how many names DescribeAutoScalingGroups takes in one
// call at its default MaxRecords of 50; Auto Scaling refuses more.
const maxGroupNames = 50

// DescribeAutoScalingGroups returns those of the named groups that exist,
// asking for at most 50 names a call and reading every page; no names, no
// call (the API would describe every group of the account).
func DescribeAutoScalingGroups(ctx context.Context, client autoscaling.DescribeAutoScalingGroupsAPIClient, names []string) ([]asgtypes.AutoScalingGroup, error) {
	var groups []asgtypes.AutoScalingGroup
	for chunk := range slices.Chunk(names, maxGroupNames) {
		p := autoscaling.NewDescribeAutoScalingGroupsPaginator(client, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: chunk})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describing auto scaling groups %v: %w", chunk, err)
			}
			groups = append(groups, page.AutoScalingGroups...)
		}
	}
	return groups, nil
}
