package tfrun

import (
	"os"
	"path/filepath"
	"testing"
)

// makeMirror lays out dir as `terraform providers mirror` does (unpacked).
func makeMirror(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "registry.terraform.io", "hashicorp", "aws", "5.100.0", "linux_amd64")
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(p, "terraform-provider-aws_v5.100.0_x5"), []byte("provider"), 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// isolate points HOME, XDG and the CLI config at empty places, so only what
// the test lays out is found; it skips when the machine has a system-wide
// mirror the test cannot hide.
func isolate(t *testing.T) string {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_DATA_HOME", "")
	t.Setenv("TF_CLI_CONFIG_FILE", filepath.Join(home, "no.tfrc"))
	for _, d := range []string{"/usr/local/share/terraform/plugins", "/usr/share/terraform/plugins"} {
		if IsMirror(d) {
			t.Skipf("this machine has a provider mirror in %s", d)
		}
	}
	return home
}

func TestFindMirrorNone(t *testing.T) {
	isolate(t)
	work := filepath.Join(t.TempDir(), ".kforge", "dev")
	// A remembered directory that is not a mirror (moved away) does not count.
	other := filepath.Join(filepath.Dir(work), "local")
	if err := os.MkdirAll(other, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(other, pluginDirFile), []byte(t.TempDir()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if m, ok := FindMirror(work); ok {
		t.Fatalf("FindMirror = %+v, want none", m)
	}
	if !registryFailure(`Error: Failed to query available provider packages: could not connect to registry.terraform.io`) {
		t.Error("registryFailure misses a registry lookup failure")
	}
}

func TestFindMirrorOtherEnvironmentFirst(t *testing.T) {
	home := isolate(t)
	makeMirror(t, filepath.Join(home, ".terraform.d", "plugins"))
	root := filepath.Join(t.TempDir(), ".kforge")
	mirror := makeMirror(t, t.TempDir())
	if _, err := rememberPluginDir(filepath.Join(root, "local"), mirror); err != nil {
		t.Fatal(err)
	}
	m, ok := FindMirror(filepath.Join(root, "dev"))
	if !ok || m.Dir != mirror || m.From != "remembered by environment local" {
		t.Fatalf("FindMirror = %+v %v, want %s remembered by local", m, ok, mirror)
	}
}

func TestFindMirrorStandardPlaces(t *testing.T) {
	home := isolate(t)
	work := filepath.Join(t.TempDir(), ".kforge", "dev")

	implied := makeMirror(t, filepath.Join(home, ".terraform.d", "plugins"))
	if m, ok := FindMirror(work); !ok || m.Dir != implied {
		t.Fatalf("FindMirror = %+v %v, want %s", m, ok, implied)
	}

	// The CLI configuration's filesystem_mirror comes before the implied ones.
	configured := makeMirror(t, t.TempDir())
	cfg := filepath.Join(home, "cli.tfrc")
	body := "provider_installation {\n  filesystem_mirror {\n    path    = \"" + configured + "\"\n    include = [\"registry.terraform.io/*/*\"]\n  }\n  direct {\n    exclude = [\"registry.terraform.io/*/*\"]\n  }\n}\n"
	if err := os.WriteFile(cfg, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_CLI_CONFIG_FILE", cfg)
	if m, ok := FindMirror(work); !ok || m.Dir != configured || m.From != "filesystem_mirror in "+cfg {
		t.Fatalf("FindMirror = %+v %v, want %s from the CLI config", m, ok, configured)
	}
}
