package node

import (
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/testutil/containerdconf"
)

func TestSandboxImageOverRealDefaults(t *testing.T) {
	const pause = "registry.k8s.io/pause:3.10.1"
	for _, v := range containerdconf.Versions {
		t.Run(v, func(t *testing.T) {
			defaults := containerdconf.Default(t, v)
			// containerd's own pause is another, so the rewrite shows.
			if own := containerdconf.SandboxImage(t, defaults); own == pause || !strings.Contains(own, "/pause:") {
				t.Fatalf("containerd %s's default names sandbox image %q; the test needs containerd's own pause", v, own)
			}
			got, err := sandboxImage(defaults, pause)
			if err != nil {
				t.Fatal(err)
			}
			if s := containerdconf.SandboxImage(t, got); s != pause {
				t.Errorf("sandbox image after the rewrite = %q, want %q", s, pause)
			}
			before, after := strings.Split(defaults, "\n"), strings.Split(got, "\n")
			if len(before) != len(after) {
				t.Fatalf("the rewrite changed the number of lines: %d, then %d", len(before), len(after))
			}
			changed := 0
			for i := range before {
				if before[i] != after[i] {
					changed++
				}
			}
			if changed != 1 {
				t.Errorf("the rewrite changed %d lines, want 1", changed)
			}
			// What the agent writes: both settings, from kubeadm's list.
			conf, err := ContainerdConfig(defaults, []string{"registry.k8s.io/etcd:3.6.5-0", pause, "registry.k8s.io/pause-not:1"})
			if err != nil {
				t.Fatal(err)
			}
			if s := containerdconf.SandboxImage(t, conf); s != pause || !strings.Contains(conf, "SystemdCgroup = true") || strings.Contains(conf, "SystemdCgroup = false") {
				t.Errorf("ContainerdConfig: sandbox image %q, want %q, and runc on the systemd cgroup driver", s, pause)
			}
		})
	}
}

func TestSandboxImageRefuses(t *testing.T) {
	for name, c := range map[string]struct{ conf, image string }{
		"no setting":           {"[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]\n  SystemdCgroup = false\n", "registry.k8s.io/pause:3.10.1"},
		"key in another table": {"[plugins.'io.containerd.cri.v1.runtime']\n  sandbox = 'registry.k8s.io/pause:3.10.2'\n  sandbox_image = \"registry.k8s.io/pause:3.10.2\"\n", "registry.k8s.io/pause:3.10.1"},
		"not a string":         {"[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 3\n", "registry.k8s.io/pause:3.10.1"},
		"quoted image":         {"[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'registry.k8s.io/pause:3.10.2'\n", "registry.k8s.io/pause:3.10.1'"},
		"empty image":          {"[plugins.'io.containerd.cri.v1.images'.pinned_images]\n  sandbox = 'registry.k8s.io/pause:3.10.2'\n", ""},
	} {
		if got, err := sandboxImage(c.conf, c.image); err == nil {
			t.Errorf("%s: accepted, wrote:\n%s", name, got)
		}
	}
}
