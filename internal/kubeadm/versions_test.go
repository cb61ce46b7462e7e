package kubeadm_test

// An external test package: the config package, which holds the supported
// releases, imports this one for etcd's quota bounds.

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/kubeadm"
)

// The golden configurations must name a release kforge supports: kubeadm
// refuses a control-plane version outside its own skew window, so a golden
// on an unsupported release documents a cluster that cannot be built.
func TestGoldenKubernetesVersionIsSupported(t *testing.T) {
	for _, name := range []string{"init.yaml", "init-restored.yaml"} {
		data, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, doc := range strings.Split(string(data), "---\n") {
			var cc kubeadm.ClusterConfiguration
			if err := yaml.Unmarshal([]byte(doc), &cc); err != nil {
				t.Fatal(err)
			}
			if cc.Kind != "ClusterConfiguration" {
				continue
			}
			found = true
			if err := config.CheckKubernetesVersion(strings.TrimPrefix(cc.KubernetesVersion, "v")); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}
		if !found {
			t.Errorf("%s holds no ClusterConfiguration", name)
		}
	}
}
