package conformance

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/internal/testutil/containerdconf"
)

// 11. containerd runs every pod sandbox on the pause this release's kubeadm
// names: the agent's own command (kubeadm.ImagesListArgs for the version
// kforge pins) with the real kubeadm, offline in the sandbox, names exactly
// one pause, and the configuration the agent makes from real `containerd
// config default` outputs (node.ContainerdConfig) carries that image where
// containerd reads it.
func checkSandboxImage(t *testing.T, e *env, a artifacts) {
	// The agent reads standard output only.
	out, err := exec.Command(e.bin.Path("kubeadm"), kubeadm.ImagesListArgs(a.version)...).Output()
	if err != nil {
		t.Fatalf("kubeadm %s config images list for %s: %v", e.bin.Version, a.version, err)
	}
	images := kubeadm.ParseImages(string(out))
	var pauses []string
	for _, ref := range images {
		if strings.Contains(ref, "/pause:") {
			pauses = append(pauses, ref)
		}
	}
	if len(pauses) != 1 {
		t.Fatalf("kubeadm %s names %d pause images for %s, want 1: %q", e.bin.Version, len(pauses), a.version, images)
	}
	for _, v := range containerdconf.Versions {
		defaults := containerdconf.Default(t, v)
		conf, err := node.ContainerdConfig(defaults, images)
		if err != nil {
			t.Fatalf("containerd %s: %v", v, err)
		}
		if got := containerdconf.SandboxImage(t, conf); got != pauses[0] {
			t.Errorf("containerd %s runs pod sandboxes on %s; kubeadm %s names %s", v, got, e.bin.Version, pauses[0])
		}
		t.Logf("containerd %s: its own sandbox image %s, kubeadm's %s", v, containerdconf.SandboxImage(t, defaults), pauses[0])
	}
}
