// Package servicerole makes sure the EC2 Auto Scaling service-linked role
// exists before Terraform writes a KMS key policy that names it.
//
// AWS creates AWSServiceRoleForAutoScaling on an account's first Auto
// Scaling group, but the cluster key is created before any group, and a key
// policy naming a principal that does not exist is refused
// (MalformedPolicyDocumentException). The role is account-wide, shared by
// every group of every stack in the account, and in use for as long as any
// group exists, so kforge creates it when missing and never deletes it, as
// it does with the state bucket.
package servicerole

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"
	"github.com/aws/smithy-go"
)

// AutoScaling names the role and the service it is linked to.
const (
	AutoScalingRoleName = "AWSServiceRoleForAutoScaling"
	AutoScalingService  = "autoscaling.amazonaws.com"
)

// API is the part of the IAM client this package uses.
type API interface {
	GetRole(context.Context, *iam.GetRoleInput, ...func(*iam.Options)) (*iam.GetRoleOutput, error)
	CreateServiceLinkedRole(context.Context, *iam.CreateServiceLinkedRoleInput, ...func(*iam.Options)) (*iam.CreateServiceLinkedRoleOutput, error)
}

// EnsureAutoScaling returns the ARN of the Auto Scaling service-linked role,
// creating the role when the account has none; created says which.
func EnsureAutoScaling(ctx context.Context, client API) (arn string, created bool, err error) {
	got, err := client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(AutoScalingRoleName)})
	if err == nil {
		return aws.ToString(got.Role.Arn), false, nil
	}
	var missing *iamtypes.NoSuchEntityException
	if !errors.As(err, &missing) {
		return "", false, fmt.Errorf("looking up the IAM role %s: %w", AutoScalingRoleName, err)
	}
	out, err := client.CreateServiceLinkedRole(ctx, &iam.CreateServiceLinkedRoleInput{
		AWSServiceName: aws.String(AutoScalingService),
		Description:    aws.String("Default service-linked role for EC2 Auto Scaling (created by kforge before the cluster KMS key that names it)"),
	})
	if err == nil {
		return aws.ToString(out.Role.Arn), true, nil
	}
	// Created meanwhile by someone else: AWS answers InvalidInput "...has
	// been taken in this account"; an emulator may say EntityAlreadyExists.
	// A create whose answer was lost (the connection dropped after IAM made
	// the role, and the SDK's retry was refused as taken, unreadably) leaves
	// the role in place too: whatever the error, a role found now is the
	// answer, and only a role still missing fails.
	createErr := err
	got, err = client.GetRole(ctx, &iam.GetRoleInput{RoleName: aws.String(AutoScalingRoleName)})
	switch {
	case err == nil:
		return aws.ToString(got.Role.Arn), false, nil
	case taken(createErr):
		return "", false, fmt.Errorf("looking up the IAM role %s after it was created concurrently: %w", AutoScalingRoleName, err)
	}
	return "", false, fmt.Errorf("creating the service-linked role for %s (needs iam:CreateServiceLinkedRole): %w", AutoScalingService, createErr)
}

func taken(err error) bool {
	var exists *iamtypes.EntityAlreadyExistsException
	if errors.As(err, &exists) {
		return true
	}
	var invalid *iamtypes.InvalidInputException
	if errors.As(err, &invalid) && strings.Contains(invalid.ErrorMessage(), "has been taken") {
		return true
	}
	var api smithy.APIError
	return errors.As(err, &api) && api.ErrorCode() == "InvalidInput" && strings.Contains(api.ErrorMessage(), "has been taken")
}
