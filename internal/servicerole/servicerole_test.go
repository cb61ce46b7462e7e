package servicerole

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

func iamClient(t *testing.T) *iam.Client {
	t.Helper()
	cfg, _ := localawstest.ConfigForTest(t, "us-east-1")
	return iam.NewFromConfig(cfg)
}

// A fresh account has no Auto Scaling role: it is created once, then found.
func TestEnsureAutoScalingCreatesThenFinds(t *testing.T) {
	client := iamClient(t)
	ctx := context.Background()

	if _, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(AutoScalingRoleName)}); err == nil {
		t.Fatal("the emulator starts with the role; the test cannot show its creation")
	}
	arn, created, err := EnsureAutoScaling(ctx, client)
	if err != nil || !created {
		t.Fatalf("first call: arn %q created %v err %v, want a created role", arn, created, err)
	}
	if !strings.HasSuffix(arn, ":role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling") {
		t.Errorf("role ARN %q is not the Auto Scaling service-linked role's", arn)
	}
	again, created, err := EnsureAutoScaling(ctx, client)
	if err != nil || created || again != arn {
		t.Errorf("second call: arn %q created %v err %v, want the same role found", again, created, err)
	}
}

// hiddenOnce answers the first GetRole as if the role were missing, as when
// another stack creates it between the lookup and the create.
type hiddenOnce struct {
	*iam.Client
	hidden bool
}

func (h *hiddenOnce) GetRole(ctx context.Context, in *iam.GetRoleInput, opts ...func(*iam.Options)) (*iam.GetRoleOutput, error) {
	if !h.hidden {
		h.hidden = true
		return h.Client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String("kforge-no-such-role")}, opts...)
	}
	return h.Client.GetRole(ctx, in, opts...)
}

func TestEnsureAutoScalingAcceptsARoleCreatedMeanwhile(t *testing.T) {
	client := iamClient(t)
	ctx := context.Background()
	if _, err := client.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{AWSServiceName: aws.String(AutoScalingService)}); err != nil {
		t.Fatalf("creating the role beforehand: %v", err)
	}
	arn, created, err := EnsureAutoScaling(ctx, &hiddenOnce{Client: client})
	if err != nil || created || arn == "" {
		t.Fatalf("arn %q created %v err %v, want the existing role accepted", arn, created, err)
	}
}

// AWS's answer for an existing service-linked role is InvalidInput, not
// EntityAlreadyExists.
func TestTakenRecognizesAWSAnswer(t *testing.T) {
	answer := &iamtypes.InvalidInputException{Message: aws.String("Service role name AWSServiceRoleForAutoScaling has been taken in this account, please try a different suffix.")}
	if !taken(answer) {
		t.Error("InvalidInput \"has been taken\" is not recognized as an existing role")
	}
	if taken(&iamtypes.InvalidInputException{Message: aws.String("Invalid service name")}) {
		t.Error("another InvalidInput is taken for an existing role")
	}
}

// answerLost makes the role and then fails as a dropped connection would
// after IAM had made it: the answer never arrives.
type answerLost struct{ *iam.Client }

func (a answerLost) CreateServiceLinkedRole(ctx context.Context, in *iam.CreateServiceLinkedRoleInput, opts ...func(*iam.Options)) (*iam.CreateServiceLinkedRoleOutput, error) {
	if _, err := a.Client.CreateServiceLinkedRole(ctx, in, opts...); err != nil {
		return nil, err
	}
	return nil, errors.New("read tcp 127.0.0.1:53992->127.0.0.1:42439: use of closed network connection")
}

// refused fails every create, as IAM does without iam:CreateServiceLinkedRole.
type refused struct{ *iam.Client }

func (refused) CreateServiceLinkedRole(context.Context, *iam.CreateServiceLinkedRoleInput, ...func(*iam.Options)) (*iam.CreateServiceLinkedRoleOutput, error) {
	return nil, errors.New("AccessDenied: not authorized to perform iam:CreateServiceLinkedRole")
}

// A create whose answer was lost made the role all the same: it is found
// and accepted. A refused create leaves no role, and fails naming the
// permission.
func TestEnsureAutoScalingAfterAFailedCreate(t *testing.T) {
	ctx := context.Background()
	_, _, err := EnsureAutoScaling(ctx, refused{iamClient(t)})
	if err == nil || !strings.Contains(err.Error(), "needs iam:CreateServiceLinkedRole") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Errorf("refused create: err %v, want the refusal naming the permission", err)
	}
	arn, _, err := EnsureAutoScaling(ctx, answerLost{iamClient(t)})
	if err != nil || !strings.HasSuffix(arn, "/AWSServiceRoleForAutoScaling") {
		t.Errorf("lost answer: arn %q err %v, want the role the create made", arn, err)
	}
}
