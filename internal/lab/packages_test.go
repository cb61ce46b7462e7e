package lab

import (
	"archive/tar"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/kforge/kforge/internal/testutil/containerdconf"
)

// TestPackages builds (or reuses) the package source for Kubernetes 1.36
// and checks what nodes get: the binaries, the units, and one image per
// reference kubeadm expects (but kube-proxy), tagged as kubeadm names it,
// whose entry point is a file in its layer.
func TestPackages(t *testing.T) {
	if testing.Short() {
		t.Skip("builds containerd, CoreDNS, etcd tools and images; not in -short")
	}
	p, err := EnsurePackages(t.Context(), PackagesOptions{Minor: "1.36", Log: testLog{t}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr", "bin/kubeadm", "bin/kubelet", "bin/kubectl",
		"cni/bridge", "cni/host-local", "cni/loopback", "cni/portmap", "units/containerd.service", "units/kubelet.service", "units/10-kubeadm.conf"} {
		if p.SHA256[f] == "" {
			t.Errorf("package source has no %s", f)
		}
	}
	seen := 0
	for _, ref := range p.Images {
		tag, err := name.NewTag(ref)
		if err != nil {
			t.Fatal(err)
		}
		repo := tag.RepositoryStr()
		base := repo[strings.LastIndex(repo, "/")+1:]
		if base == "kube-proxy" {
			continue
		}
		seen++
		img, err := tarball.ImageFromPath(filepath.Join(p.Dir, "images", base+".tar"), &tag)
		if err != nil {
			t.Errorf("image %s: %v", ref, err)
			continue
		}
		cfg, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if len(cfg.Config.Entrypoint) == 0 {
			t.Errorf("image %s has no entry point", ref)
			continue
		}
		layers, err := img.Layers()
		if err != nil || len(layers) != 1 {
			t.Fatalf("image %s: %d layers, %v", ref, len(layers), err)
		}
		rc, err := layers[0].Uncompressed()
		if err != nil {
			t.Fatal(err)
		}
		found := false
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if "/"+h.Name == cfg.Config.Entrypoint[0] && h.Size > 0 {
				found = true
			}
		}
		rc.Close()
		if !found {
			t.Errorf("image %s: entry point %s is not in its layer", ref, cfg.Config.Entrypoint[0])
		}
	}
	if seen != 6 {
		t.Errorf("built %d images, want 6 (apiserver, controller-manager, scheduler, etcd, CoreDNS, pause; kube-proxy is not used): %v", seen, p.Images)
	}
	// A tampered file makes the cache untrusted.
	if _, err := readPackages(p.Dir); err != nil {
		t.Fatalf("the package source does not verify: %v", err)
	}
}

// The agent's containerd configuration is tested over the default of the
// containerd the lab's nodes run (internal/testutil/containerdconf, its
// first release): a new release needs its default recorded there.
func TestContainerdDefaultRecorded(t *testing.T) {
	if v := strings.TrimPrefix(ContainerdVersion, "v"); containerdconf.Versions[0] != v {
		t.Errorf("internal/testutil/containerdconf records containerd %v first; the lab runs %s: add the output of its `containerd config default`", containerdconf.Versions, v)
	}
}
