package terraform

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/route53"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/kforge/kforge/internal/awsx"
)

// clients talk to the emulator through the same SDK configuration kforge uses.
type clients struct {
	cfg     aws.Config
	asg     *autoscaling.Client
	ec2     *ec2.Client
	efs     *efs.Client
	elb     *elbv2.Client
	iam     *iam.Client
	kms     *kms.Client
	route53 *route53.Client
	s3      *s3.Client
	sts     *sts.Client
}

func newClients(t *testing.T, ctx context.Context, region, endpoint string) *clients {
	t.Helper()
	cfg, err := awsx.Config(ctx, region, endpoint)
	if err != nil {
		t.Fatalf("AWS SDK configuration for %s: %v", endpoint, err)
	}
	return &clients{
		cfg:     cfg,
		asg:     autoscaling.NewFromConfig(cfg),
		ec2:     ec2.NewFromConfig(cfg),
		efs:     efs.NewFromConfig(cfg),
		elb:     elbv2.NewFromConfig(cfg),
		iam:     iam.NewFromConfig(cfg),
		kms:     kms.NewFromConfig(cfg),
		route53: route53.NewFromConfig(cfg),
		s3:      awsx.S3Client(cfg, endpoint),
		sts:     sts.NewFromConfig(cfg),
	}
}
