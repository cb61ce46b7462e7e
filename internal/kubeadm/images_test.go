package kubeadm

import (
	"slices"
	"testing"
)

func TestParseImagesAndImage(t *testing.T) {
	// What kubeadm 1.36.3 prints for `config images list --kubernetes-version v1.36.6`.
	out := `registry.k8s.io/kube-apiserver:v1.36.6
registry.k8s.io/kube-controller-manager:v1.36.6
registry.k8s.io/kube-scheduler:v1.36.6
registry.k8s.io/kube-proxy:v1.36.6
registry.k8s.io/coredns/coredns:v1.14.2
registry.k8s.io/pause:3.10.2
registry.k8s.io/etcd:3.6.8-0
`
	refs := ParseImages(out)
	if len(refs) != 7 || !slices.IsSorted(refs) {
		t.Fatalf("ParseImages = %q, want the 7 references sorted", refs)
	}
	for name, want := range map[string]string{
		"pause":   "registry.k8s.io/pause:3.10.2",
		"etcd":    "registry.k8s.io/etcd:3.6.8-0",
		"coredns": "registry.k8s.io/coredns/coredns:v1.14.2",
	} {
		if got, err := Image(refs, name); err != nil || got != want {
			t.Errorf("Image(%s) = %q, %v; want %q", name, got, err, want)
		}
	}
	// A registry with a port, a digest: the name is still the repository's last element.
	if got, err := Image([]string{"mirror.example:5000/k8s/pause@sha256:ab12"}, "pause"); err != nil || got != "mirror.example:5000/k8s/pause@sha256:ab12" {
		t.Errorf("Image of a digest reference = %q, %v", got, err)
	}
	if got, err := Image([]string{"mirror.example:5000/pause"}, "pause"); err != nil || got != "mirror.example:5000/pause" {
		t.Errorf("Image of an untagged reference behind a port = %q, %v", got, err)
	}
	if _, err := Image(refs[:2], "pause"); err == nil {
		t.Error("a list without pause gave one")
	}
	if got := ImagesListArgs("1.36.6"); !slices.Equal(got, []string{"config", "images", "list", "--kubernetes-version", "v1.36.6"}) {
		t.Errorf("ImagesListArgs = %q", got)
	}
}
