// Package tfrun stages the embedded Terraform modules into an environment's
// work directory and runs Terraform there through hashicorp/terraform-exec:
// init with the S3 backend, plan with a readable summary, apply and destroy
// with progress read from Terraform's JSON stream, outputs, force-unlock.
// Every run is logged under the environment's logs directory.
package tfrun

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"

	"github.com/hashicorp/go-version"
)

// MinTerraformVersion is the oldest Terraform kforge runs: the S3 backend's
// use_lockfile (native S3 locking) is generally available from 1.10 on.
var MinTerraformVersion = version.Must(version.NewVersion("1.10.0"))

// InstallHint says how to get Terraform.
const InstallHint = "install Terraform 1.10 or newer from https://developer.hashicorp.com/terraform/install and put it on PATH"

// ErrTerraformMissing is returned (wrapped) when terraform is not on PATH.
var ErrTerraformMissing = errors.New("terraform not found on PATH")

var versionLine = regexp.MustCompile(`(?m)^Terraform v(\S+)`)

// FindTerraform finds terraform on PATH and checks its version.
func FindTerraform(ctx context.Context) (string, *version.Version, error) {
	path, err := exec.LookPath("terraform")
	if err != nil {
		return "", nil, fmt.Errorf("%w: %s", ErrTerraformMissing, InstallHint)
	}
	out, err := exec.CommandContext(ctx, path, "version").Output()
	if err != nil {
		return "", nil, fmt.Errorf("running %s version: %w", path, err)
	}
	v, err := parseVersion(string(out))
	if err != nil {
		return "", nil, fmt.Errorf("%s: %w", path, err)
	}
	if v.LessThan(MinTerraformVersion) {
		return "", nil, fmt.Errorf("terraform %s at %s is too old (kforge needs %s or newer): %s", v, path, MinTerraformVersion, InstallHint)
	}
	return path, v, nil
}

func parseVersion(out string) (*version.Version, error) {
	m := versionLine.FindStringSubmatch(out)
	if m == nil {
		return nil, fmt.Errorf("cannot read the version from %q", out)
	}
	v, err := version.NewVersion(m[1])
	if err != nil {
		return nil, fmt.Errorf("parsing terraform version %q: %w", m[1], err)
	}
	return v, nil
}
