package cluster

import (
	"context"
	"runtime"
	"testing"

	"github.com/kforge/kforge/internal/tfrun"
)

// The version report names Terraform when it is usable, and why not
// otherwise: exactly one of the two.
func TestRunVersion(t *testing.T) {
	v := RunVersion(context.Background(), "v1.2.3")
	if v.Version != "v1.2.3" || v.GoVersion != runtime.Version() || v.Platform != runtime.GOOS+"/"+runtime.GOARCH {
		t.Errorf("version %+v", v)
	}
	_, tv, err := tfrun.FindTerraform(context.Background())
	switch {
	case err == nil && (v.Terraform != tv.String() || v.TFError != ""):
		t.Errorf("terraform %s found, reported %+v", tv, v)
	case err != nil && (v.Terraform != "" || v.TFError != err.Error()):
		t.Errorf("no terraform (%v), reported %+v", err, v)
	}
}
