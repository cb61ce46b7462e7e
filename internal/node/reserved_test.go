package node

import (
	"context"
	"io"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/kubeadm"
)

// snapshotAt keeps the files at paths as they are when a command starting
// with prefix runs: what kubeadm reads.
type snapshotAt struct {
	*recorder
	prefix string
	paths  []string
	files  map[string]string
}

func (s *snapshotAt) Run(ctx context.Context, c Command) (string, error) {
	if strings.HasPrefix(c.String(), s.prefix) && s.files == nil {
		s.files = map[string]string{}
		for _, p := range s.paths {
			if b, err := s.recorder.ReadFile(p); err == nil {
				s.files[p] = string(b)
			}
		}
	}
	return s.recorder.Run(ctx, c)
}

// kubeReservedOf decodes the kubelet patch's kubeReserved.
func kubeReservedOf(t *testing.T, patch string) map[string]string {
	t.Helper()
	var p kubeadm.KubeletReservedPatch
	if err := yaml.UnmarshalStrict([]byte(patch), &p); err != nil {
		t.Fatalf("the kubelet patch is not kubeReserved alone: %v\n%s", err, patch)
	}
	return p.KubeReserved
}

// checkReserved checks that a kubelet patch was on disk when h's command
// ran and that it reserves want; node names the node in the failure.
func checkReserved(t *testing.T, h *snapshotAt, node string, want map[string]string) {
	t.Helper()
	patch, ok := h.files[kubeadm.KubeletPatchPath]
	if !ok {
		t.Fatalf("no %s when %s ran", kubeadm.KubeletPatchPath, h.prefix)
	}
	if got := kubeReservedOf(t, patch); !maps.Equal(got, want) {
		t.Errorf("%s reserves %v, want %v", node, got, want)
	}
}

const patchesDirectory = "patches:\n  directory: /etc/kforge/kubeadm-patches\n"

// A worker writes its kubelet patch, from its own CPUs and memory, before
// kubeadm join, whose configuration names the patches directory.
func TestWorkerJoinReservesForTheSystem(t *testing.T) {
	c := newCloud(t)
	c.publishJoin(t)
	rec := newRecorder(t, "worker")
	rec.setResources("0-1", 2<<20) // t3.small: 2 vCPUs, 2 GiB
	h := &snapshotAt{recorder: rec, prefix: "kubeadm join", paths: []string{kubeadm.KubeletPatchPath, joinConfPath}}
	if err := c.worker(h, fixedClock(t0), Backoff{}, slog.New(slog.NewTextHandler(io.Discard, nil))).Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !rec.ran("kubeadm join --config " + joinConfPath) {
		t.Fatalf("no kubeadm join: %v", rec.commands())
	}
	checkReserved(t, h, "a 2 vCPU, 2 GiB worker", map[string]string{"cpu": "70m", "memory": "512Mi", "ephemeral-storage": "1Gi"})
	if !strings.Contains(h.files[joinConfPath], patchesDirectory) {
		t.Errorf("the join configuration does not name the patches directory:\n%s", h.files[joinConfPath])
	}
}

// The control plane writes its kubelet patch before kubeadm init, whose
// InitConfiguration names the patches directory; the cluster-wide
// KubeletConfiguration carries no reservation.
func TestControlPlaneInitReservesForTheSystem(t *testing.T) {
	c := newCloud(t)
	rec := newRecorder(t, "controller")
	rec.setResources("0-7", 32<<20) // 8 vCPUs, 32 GiB
	h := &snapshotAt{recorder: rec, prefix: "kubeadm init", paths: []string{kubeadm.KubeletPatchPath, kubeadmConfPath}}
	if err := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0)).Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	checkReserved(t, h, "an 8 vCPU, 32 GiB control plane", map[string]string{"cpu": "90m", "memory": "3646Mi", "ephemeral-storage": "1Gi"})
	docs := strings.Split(h.files[kubeadmConfPath], "---\n")
	if !strings.Contains(docs[0], "kind: InitConfiguration") || !strings.Contains(docs[0], patchesDirectory) {
		t.Errorf("the InitConfiguration does not name the patches directory:\n%s", docs[0])
	}
	if strings.Contains(h.files[kubeadmConfPath], "kubeReserved") {
		t.Errorf("the cluster-wide configuration carries a node's reservation:\n%s", h.files[kubeadmConfPath])
	}
}

// kubeadm upgrade apply rewrites the kubelet's config.yaml from the
// cluster's ConfigMap: the agent writes the patch again first (a control
// plane bootstrapped before the reservation has none) and passes
// --patches, so the upgraded kubelet keeps its reservation.
func TestUpgradeControlPlaneKeepsTheReservation(t *testing.T) {
	rec, a := upgrading(t, "")
	rec.mu.Lock()
	delete(rec.files, kubeadm.KubeletPatchPath)
	rec.mu.Unlock()
	h := &snapshotAt{recorder: rec, prefix: "kubeadm upgrade apply", paths: []string{kubeadm.KubeletPatchPath}}
	a.Host = h
	if err := a.UpgradeControlPlane(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !rec.ran("kubeadm upgrade apply v1.36.6 --yes --patches /etc/kforge/kubeadm-patches") {
		t.Fatalf("kubeadm upgrade apply without the patches directory: %v", rec.commands())
	}
	checkReserved(t, h, "a 2 vCPU, 4 GiB control plane", map[string]string{"cpu": "70m", "memory": "1024Mi", "ephemeral-storage": "1Gi"})
}

// The node's resources as the kubelet counts them: online CPUs from the
// kernel's cpu list, MemTotal in bytes.
func TestHostResources(t *testing.T) {
	for list, want := range map[string]int{"0": 1, "0-1": 2, "0-3,8,10-11\n": 7, "0-63": 64} {
		if got, err := countCPUs(list); err != nil || got != want {
			t.Errorf("countCPUs(%q) = %d, %v; want %d", list, got, err, want)
		}
	}
	for _, bad := range []string{"", "a-b", "3-1", "0-"} {
		if _, err := countCPUs(bad); err == nil {
			t.Errorf("countCPUs(%q) accepted", bad)
		}
	}
	meminfo := "MemTotal:        1948532 kB\nMemFree:          812340 kB\nMemAvailable:    1402228 kB\nHugePages_Total:       0\n"
	if got, err := memTotal([]byte(meminfo)); err != nil || got != 1948532*1024 {
		t.Errorf("memTotal = %d, %v; want %d", got, err, 1948532*1024)
	}
	if _, err := memTotal([]byte("MemFree: 1 kB\n")); err == nil {
		t.Error("a meminfo without MemTotal was accepted")
	}
	h := newRecorder(t, "node")
	h.setResources("0-3", 16<<20)
	if cpus, mem, err := HostResources(h); err != nil || cpus != 4 || mem != 16<<30 {
		t.Errorf("HostResources = %d, %d, %v; want 4, 16 GiB", cpus, mem, err)
	}
	// A node that cannot read its resources writes no patch.
	h.mu.Lock()
	delete(h.files, memInfoPath)
	h.mu.Unlock()
	if _, err := WriteKubeletPatch(h); err == nil || Exists(h, kubeadm.KubeletPatchPath) {
		t.Errorf("without /proc/meminfo: %v, patch written %v", err, Exists(h, kubeadm.KubeletPatchPath))
	}
}
