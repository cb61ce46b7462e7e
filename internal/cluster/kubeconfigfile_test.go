package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"
)

// The admin kubeconfig is written readable by its owner only, also over a
// file that was readable by others, and reads back unchanged.
func TestWriteKubeconfigIsPrivate(t *testing.T) {
	var kc Kubeconfig
	if err := yaml.Unmarshal([]byte(adminConf), &kc); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "new", "admin.conf")
	for _, existing := range []bool{false, true} {
		if existing {
			if err := os.Chmod(file, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if err := writeKubeconfig(&kc, file); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("existing=%v: mode %v, want 0600", existing, fi.Mode().Perm())
		}
	}
	if di, err := os.Stat(filepath.Dir(file)); err != nil || di.Mode().Perm() != 0o700 {
		t.Errorf("directory: %v %v, want 0700", di, err)
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var back Kubeconfig
	if err := yaml.Unmarshal(data, &back); err != nil {
		t.Fatal(err)
	}
	if back.CurrentContext != kc.CurrentContext || back.Clusters[0].Cluster.Server != kc.Clusters[0].Cluster.Server {
		t.Errorf("read back %+v", back)
	}
}

// A link at the kubeconfig's path is replaced, not written through: the
// admin key does not land in whatever file the link points at.
func TestWriteKubeconfigReplacesALink(t *testing.T) {
	var kc Kubeconfig
	if err := yaml.Unmarshal([]byte(adminConf), &kc); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	target := filepath.Join(dir, "shared.txt")
	if err := os.WriteFile(target, []byte("someone else's file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "admin.conf")
	if err := os.Symlink(target, file); err != nil {
		t.Fatal(err)
	}
	if err := writeKubeconfig(&kc, file); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(target); err != nil || string(got) != "someone else's file\n" {
		t.Errorf("the link's target changed: %q %v", got, err)
	}
	if fi, err := os.Lstat(file); err != nil || fi.Mode()&os.ModeSymlink != 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("kubeconfig: %v %v, want a 0600 regular file", fi, err)
	}
	if left, _ := filepath.Glob(filepath.Join(dir, ".admin.conf.*")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}
}
