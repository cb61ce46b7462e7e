package config

import (
	"os"
	"path/filepath"
	"testing"
)

func TestSetNestedScalar(t *testing.T) {
	for name, c := range map[string]struct{ in, want string }{
		"replaced in place": {
			"name: x # the name\nkubernetes:\n  version: 1.35.10 # pinned\n  podCIDR: 10.0.0.0/16\n",
			"name: x # the name\nkubernetes:\n  version: 1.36.6 # pinned\n  podCIDR: 10.0.0.0/16\n"},
		"quoted": {
			"kubernetes:\n    version: \"1.35.10\"\n",
			"kubernetes:\n    version: 1.36.6\n"},
		"added to the mapping": {
			"kubernetes:\n    podCIDR: 10.0.0.0/16\nname: x\n",
			"kubernetes:\n    version: 1.36.6\n    podCIDR: 10.0.0.0/16\nname: x\n"},
		"added at the end": {
			"# comment\nname: x",
			"# comment\nname: x\nkubernetes:\n  version: 1.36.6\n"},
	} {
		got, err := setNestedScalar([]byte(c.in), "kubernetes", "version", "1.36.6")
		if err != nil || string(got) != c.want {
			t.Errorf("%s: got %q, %v; want %q", name, got, err, c.want)
		}
	}
	if _, err := setNestedScalar([]byte("kubernetes: {version: 1.35.10}\n"), "kubernetes", "version", "1.36.6"); err == nil {
		t.Errorf("a flow mapping must be refused, not rewritten")
	}
}

// The environment's own file gets the version; base.yaml is untouched and
// the result loads with the new version.
func TestSetKubernetesVersion(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join("..", "..", "envs")
	for _, f := range []string{"base.yaml", "local.yaml"} {
		data, err := os.ReadFile(filepath.Join(src, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	base, _ := os.ReadFile(filepath.Join(dir, "base.yaml"))
	if _, err := SetKubernetesVersion(dir, "local", "1.35.9"); err != nil {
		t.Fatal(err)
	}
	c, err := LoadEnv(dir, "local")
	if err != nil {
		t.Fatal(err)
	}
	if c.Kubernetes.Version != "1.35.9" || c.Kubernetes.PodCIDR == "" {
		t.Errorf("after the edit: version %q, pod CIDR %q; want 1.35.9 and base's CIDR kept", c.Kubernetes.Version, c.Kubernetes.PodCIDR)
	}
	if again, _ := os.ReadFile(filepath.Join(dir, "base.yaml")); string(again) != string(base) {
		t.Errorf("base.yaml changed")
	}
	if _, err := SetKubernetesVersion(dir, "local", "1.36.6"); err != nil {
		t.Fatal(err)
	}
	if c, _ = LoadEnv(dir, "local"); c.Kubernetes.Version != "1.36.6" {
		t.Errorf("second edit: version %q, want 1.36.6", c.Kubernetes.Version)
	}
}
