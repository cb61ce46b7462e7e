package cluster

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/kforge/kforge/internal/localaws/localawstest"
	"github.com/kforge/kforge/internal/tfrun"
)

// RunInit creates the state bucket and initialises Terraform with the S3
// backend; a second run finds both and changes nothing.
func TestRunInitIsIdempotent(t *testing.T) {
	plugins := os.Getenv("KFORGE_PLUGIN_DIR")
	if plugins == "" {
		t.Skip("SKIP (not a pass): terraform init needs the provider mirror (KFORGE_PLUGIN_DIR)")
	}
	ctx := context.Background()
	if _, _, err := tfrun.FindTerraform(ctx); err != nil {
		t.Skipf("SKIP (not a pass): %v", err)
	}
	em := localawstest.StartForTest(t)
	o := Options{EnvsDir: repoEnvs(t), WorkDir: t.TempDir(), Endpoint: em.URL(), PluginDir: plugins, UI: &recordingUI{}}
	e, err := Open(ctx, "local", NeedEmulator, o)
	if err != nil {
		t.Fatal(err)
	}
	first, err := RunInit(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if !first.Created || first.Bucket == "" || first.Key != e.StateKey() || first.Terraform == "" || first.Endpoint != em.URL() || len(first.Settings) == 0 {
		t.Errorf("first init: %+v", first)
	}
	if _, err := os.Stat(filepath.Join(first.WorkDir, ".terraform")); err != nil {
		t.Errorf("terraform init left no .terraform in %s: %v", first.WorkDir, err)
	}
	second, err := RunInit(ctx, e)
	if err != nil {
		t.Fatal(err)
	}
	if second.Created || second.Bucket != first.Bucket || second.WorkDir != first.WorkDir {
		t.Errorf("second init: %+v, first %+v", second, first)
	}
}
