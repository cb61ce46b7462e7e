package cluster

import (
	"context"
	"runtime"

	"github.com/kforge/kforge/internal/tfrun"
)

// VersionResult is kforge's version and the Terraform it would run.
type VersionResult struct {
	Version   string `json:"version"`
	GoVersion string `json:"go_version"`
	Platform  string `json:"platform"`
	Terraform string `json:"terraform,omitempty"`
	// TFError says why no usable Terraform was found.
	TFError string `json:"terraform_error,omitempty"`
}

// RunVersion reports kforge's version (set at build time) and looks for
// Terraform the way every workflow does.
func RunVersion(ctx context.Context, version string) VersionResult {
	v := VersionResult{Version: version, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if _, tv, err := tfrun.FindTerraform(ctx); err == nil {
		v.Terraform = tv.String()
	} else {
		v.TFError = err.Error()
	}
	return v
}
