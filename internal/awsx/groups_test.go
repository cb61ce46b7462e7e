package awsx_test

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// TestDescribeAutoScalingGroupsPastOnePage: 60 groups asked for by name
// come back whole, where one call returns a first page of 50 (the
// emulator pages them; AWS refuses more than 50 names a call at the
// default MaxRecords, which the emulator does not enforce); no names
// describe nothing rather than the account's every group.
func TestDescribeAutoScalingGroupsPastOnePage(t *testing.T) {
	ctx := context.Background()
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	lt, err := ec2.NewFromConfig(cfg).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("kforge-test"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro}})
	if err != nil {
		t.Fatal(err)
	}
	client := autoscaling.NewFromConfig(cfg)
	var names []string
	for i := range 60 {
		name := fmt.Sprintf("kforge-test-%02d", i)
		names = append(names, name)
		if _, err := client.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{AutoScalingGroupName: aws.String(name),
			MinSize: aws.Int32(0), MaxSize: aws.Int32(1), DesiredCapacity: aws.Int32(0), AvailabilityZones: []string{"eu-west-1a"},
			LaunchTemplate: &asgtypes.LaunchTemplateSpecification{LaunchTemplateId: lt.LaunchTemplate.LaunchTemplateId}}); err != nil {
			t.Fatal(err)
		}
	}
	one, err := client.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: names})
	if err != nil {
		t.Fatal(err)
	}
	if len(one.AutoScalingGroups) == len(names) {
		t.Fatal("the emulator answers 60 names in one page; this test would prove nothing")
	}

	groups, err := awsx.DescribeAutoScalingGroups(ctx, client, append(names, "kforge-test-missing"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, g := range groups {
		got = append(got, aws.ToString(g.AutoScalingGroupName))
	}
	if slices.Sort(got); !slices.Equal(got, names) {
		t.Errorf("groups %v, want the 60 named", got)
	}
	if none, err := awsx.DescribeAutoScalingGroups(ctx, client, nil); err != nil || len(none) != 0 {
		t.Errorf("no names: %d groups, %v; want none and no call", len(none), err)
	}
}
