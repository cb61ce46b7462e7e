package kubeadm

import (
	"strings"
	"testing"
)

// TestAllowCgroupV1: the lab's cgroup v1 setting sets the kubelet's
// failCgroupV1 to false and skips kubeadm's SystemVerification on init and
// join (kubeadm wants both); without it neither appears.
func TestAllowCgroupV1(t *testing.T) {
	cp := controlPlane()
	plain, err := RenderControlPlane(cp)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(plain), "failCgroupV1") || strings.Contains(string(plain), "SystemVerification") {
		t.Fatalf("the production configuration carries the lab's cgroup v1 setting:\n%s", plain)
	}
	cp.AllowCgroupV1 = true
	lab, err := RenderControlPlane(cp)
	if err != nil {
		t.Fatal(err)
	}
	strictDocs(t, lab)
	if !strings.Contains(string(lab), "failCgroupV1: false") || !strings.Contains(string(lab), "- SystemVerification") {
		t.Fatalf("lab control plane:\n%s", lab)
	}
	w := Worker{NodeName: "ip-10-0-2-10.eu-west-1.compute.internal", ProviderID: "aws:///eu-west-1a/i-0123456789abcdef1",
		APIEndpoint: "api.dev.example.com:6443", Token: "abcdef.0123456789abcdef",
		CACertHashes: []string{"sha256:" + strings.Repeat("a", 64)}, AllowCgroupV1: true}
	join, err := RenderJoin(w)
	if err != nil {
		t.Fatal(err)
	}
	strictDocs(t, join)
	if !strings.Contains(string(join), "- SystemVerification") {
		t.Fatalf("lab join:\n%s", join)
	}
	w.AllowCgroupV1 = false
	if join, _ := RenderJoin(w); strings.Contains(string(join), "SystemVerification") {
		t.Fatalf("the production join skips SystemVerification:\n%s", join)
	}
}

// TestSharedHostDisk: the lab's shared-disk setting gives the kubelet low
// disk eviction thresholds and no image garbage collection (the field as k8s.io/kubelet's v1beta1
// KubeletConfiguration names it; the lab's kubelets read it for real);
// without it the kubelet keeps its defaults.
func TestSharedHostDisk(t *testing.T) {
	cp := controlPlane()
	plain, err := RenderControlPlane(cp)
	if err != nil {
		t.Fatal(err)
	}
	for _, lab := range []string{"evictionHard", "imageGCHighThresholdPercent"} {
		if strings.Contains(string(plain), lab) {
			t.Fatalf("the production configuration carries the lab's %s:\n%s", lab, plain)
		}
	}
	cp.SharedHostDisk = true
	lab, err := RenderControlPlane(cp)
	if err != nil {
		t.Fatal(err)
	}
	strictDocs(t, lab)
	for _, want := range []string{"evictionHard:", "imagefs.available: 1%", "nodefs.available: 1%", "memory.available: 100Mi", "imageGCHighThresholdPercent: 100"} {
		if !strings.Contains(string(lab), want) {
			t.Errorf("lab control plane lacks %q:\n%s", want, lab)
		}
	}
}
