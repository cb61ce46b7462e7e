package localawstest

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
)

// A second addition of the same role, which is what the SDK's retry of a
// lost answer sends, meets the emulator's LimitExceeded and is taken for
// the role being there.
func TestAddRoleToInstanceProfileAgain(t *testing.T) {
	cfg, _ := ConfigForTest(t, "us-east-1")
	ctx := context.Background()
	c := iam.NewFromConfig(cfg)
	if _, err := c.CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("node"),
		AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Service":"ec2.amazonaws.com"},"Action":"sts:AssumeRole"}]}`)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateInstanceProfile(ctx, &iam.CreateInstanceProfileInput{InstanceProfileName: aws.String("node")}); err != nil {
		t.Fatal(err)
	}
	AddRoleToInstanceProfile(ctx, t, c, "node", "node")
	AddRoleToInstanceProfile(ctx, t, c, "node", "node")
}
