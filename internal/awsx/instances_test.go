package awsx_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// TestDescribeInstancesLeavesUnknownIDsOut: an id EC2 does not know (yet)
// is left out, not an error, where InstanceIds fails the whole call; ids
// past the first filter's 200 values are asked for too.
func TestDescribeInstancesLeavesUnknownIDsOut(t *testing.T) {
	ctx := context.Background()
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	client := ec2.NewFromConfig(cfg)
	run, err := client.RunInstances(ctx, &ec2.RunInstancesInput{
		ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro,
		MinCount: aws.Int32(1), MaxCount: aws.Int32(1),
	})
	if err != nil {
		t.Fatal(err)
	}
	known := aws.ToString(run.Instances[0].InstanceId)
	ids := make([]string, 0, 451)
	for i := range 450 {
		ids = append(ids, fmt.Sprintf("i-%017x", 0xabc000+i))
	}
	ids = append(ids, known)

	if _, err := client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: ids[449:]}); err == nil {
		t.Fatal("the emulator answers an unknown id in InstanceIds; this test would prove nothing")
	}
	var got []string
	if err := awsx.DescribeInstances(ctx, client, ids, func(i ec2types.Instance) { got = append(got, aws.ToString(i.InstanceId)) }); err != nil {
		t.Fatalf("DescribeInstances with unknown ids: %v", err)
	}
	if len(got) != 1 || got[0] != known {
		t.Fatalf("instances = %v, want [%s]", got, known)
	}
}
