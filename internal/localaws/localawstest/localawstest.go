// Package localawstest starts the local AWS emulator for a test.
package localawstest

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/efs"
	efstypes "github.com/aws/aws-sdk-go-v2/service/efs/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	iamtypes "github.com/aws/aws-sdk-go-v2/service/iam/types"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/localaws"
)

// StartForTest starts a moto_server for t on a free port and stops it when
// the test ends. It skips the test, saying why, when moto_server is not
// installed; any other failure to start fails the test.
func StartForTest(t testing.TB, env ...string) *localaws.Emulator {
	t.Helper()
	e, err := localaws.Start(context.Background(), localaws.Options{Env: env})
	if errors.Is(err, localaws.ErrNotInstalled) {
		t.Skipf("skipping: %v", err)
	}
	if err != nil {
		t.Fatalf("starting the AWS emulator: %v", err)
	}
	t.Cleanup(func() {
		if err := e.Stop(); err != nil {
			t.Errorf("stopping the AWS emulator: %v", err)
		}
	})
	return e
}

// ConfigForTest starts an emulator for t, as StartForTest does, and returns
// an AWS configuration for region pointed at it, with the emulator.
func ConfigForTest(t testing.TB, region string, env ...string) (aws.Config, *localaws.Emulator) {
	t.Helper()
	e := StartForTest(t, env...)
	cfg, err := awsx.Config(context.Background(), region, e.URL())
	if err != nil {
		t.Fatalf("AWS configuration for the emulator: %v", err)
	}
	return cfg, e
}

// CreateFileSystem creates an EFS file system on the emulator and returns
// its ID. Under load the emulator's answer to a create can be lost and the
// SDK's retry meet the file system it made (FileSystemAlreadyExists, as on
// AWS): the creation token finds it.
func CreateFileSystem(ctx context.Context, t testing.TB, c *efs.Client, in *efs.CreateFileSystemInput) string {
	t.Helper()
	token := aws.ToString(in.CreationToken)
	out, err := c.CreateFileSystem(ctx, in)
	var exists *efstypes.FileSystemAlreadyExists
	if errors.As(err, &exists) {
		found, derr := c.DescribeFileSystems(ctx, &efs.DescribeFileSystemsInput{CreationToken: aws.String(token)})
		if derr != nil || len(found.FileSystems) != 1 {
			t.Fatalf("file system %s: %v, then %v", token, err, derr)
		}
		return aws.ToString(found.FileSystems[0].FileSystemId)
	}
	if err != nil {
		t.Fatalf("file system %s: %v", token, err)
	}
	return aws.ToString(out.FileSystemId)
}

// AddRoleToInstanceProfile puts role into profile on the emulator. Under
// load the emulator's answer can be lost and the SDK's retry meet the role
// it added (LimitExceeded: a profile holds one role, as on AWS): a profile
// that holds role is what was asked for.
func AddRoleToInstanceProfile(ctx context.Context, t testing.TB, c *iam.Client, profile, role string) {
	t.Helper()
	_, err := c.AddRoleToInstanceProfile(ctx, &iam.AddRoleToInstanceProfileInput{InstanceProfileName: aws.String(profile), RoleName: aws.String(role)})
	var full *iamtypes.LimitExceededException
	if errors.As(err, &full) {
		got, gerr := c.GetInstanceProfile(ctx, &iam.GetInstanceProfileInput{InstanceProfileName: aws.String(profile)})
		if gerr == nil && len(got.InstanceProfile.Roles) == 1 && aws.ToString(got.InstanceProfile.Roles[0].RoleName) == role {
			return
		}
		t.Fatalf("adding role %s to instance profile %s: %v, then %v", role, profile, err, gerr)
	}
	if err != nil {
		t.Fatalf("adding role %s to instance profile %s: %v", role, profile, err)
	}
}

// ProviderHCL is the start of a root module for a test that applies
// Terraform to the emulator at url: the hashicorp/aws requirement (as the
// modules pin it) and a provider for region whose services, and STS, which
// the provider calls as it starts, point at the emulator, with test
// credentials and few retries.
func ProviderHCL(url, region string, services ...string) string {
	var endpoints strings.Builder
	for _, s := range services {
		endpoints.WriteString("    " + s + ` = "` + url + "\"\n")
	}
	endpoints.WriteString(`    sts = "` + url + "\"\n")
	return `terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.100" }
  }
}
provider "aws" {
  region                      = "` + region + `"
  access_key                  = "test"
  secret_key                  = "test"
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  max_retries                 = 2
  endpoints {
` + endpoints.String() + `  }
}
`
}
