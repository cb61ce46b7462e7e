package lab

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/node"
)

// dnfWorld is a node's file system (root) and a package source (pkgs) of
// two releases, for the dnf stand-in and the image import. ctr is a small
// logging stand-in: containerd cannot run in a unit test.
type dnfWorld struct {
	t          *testing.T
	root, pkgs string
}

func newDNFWorld(t *testing.T, releases ...string) *dnfWorld {
	t.Helper()
	w := &dnfWorld{t: t, root: t.TempDir(), pkgs: t.TempDir()}
	for _, v := range releases {
		for _, f := range []string{"bin/kubeadm", "bin/kubelet", "bin/kubectl", "bin/containerd", "bin/containerd-shim-runc-v2", "bin/ctr",
			"units/kubelet.service", "units/10-kubeadm.conf", "units/containerd.service", "cni/bridge", "images/etcd.tar", "images/pause.tar"} {
			w.write(filepath.Join(w.pkgs, v, f), filepath.Base(f)+" "+v+"\n", 0o755)
		}
	}
	for _, d := range []string{"usr/bin", "usr/local/bin", "etc/yum.repos.d"} {
		if err := os.MkdirAll(filepath.Join(w.root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	w.write(filepath.Join(w.root, "usr/local/bin/ctr"), `#!/bin/sh
echo "$*" >>"$KFORGE_LAB_ROOT/ctr.log"
`, 0o755)
	w.write(filepath.Join(w.root, "usr/local/lib/kforge-lab/import-images"), importImages, 0o755)
	return w
}

func (w *dnfWorld) write(path, data string, mode os.FileMode) {
	w.t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		w.t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(data), mode); err != nil {
		w.t.Fatal(err)
	}
}

func (w *dnfWorld) read(rel string) string {
	data, _ := os.ReadFile(filepath.Join(w.root, rel))
	return string(data)
}

// repo writes the agent's repository file for minor, as its prerequisites
// phase and its control-plane upgrade do.
func (w *dnfWorld) repo(minor string) {
	w.write(filepath.Join(w.root, "etc/yum.repos.d/kubernetes.repo"), string(node.KubernetesRepo(minor)), 0o644)
}

func (w *dnfWorld) run(script string, args ...string) (string, error) {
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
	cmd.Env = append(os.Environ(), "KFORGE_LAB_ROOT="+w.root, "KFORGE_LAB_PACKAGES="+w.pkgs)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (w *dnfWorld) dnf(args ...string) (string, error) {
	return w.run(dnfStandIn, append([]string{"install", "-y"}, args...)...)
}

// The lab's dnf serves the release the agent asks for from the minor its
// repository file names, honours the repository's exclude, and refuses
// what the repository would not have, as dnf's "No match" does.
func TestDNFStandInServesTheRepositorysMinor(t *testing.T) {
	w := newDNFWorld(t, "1.35.4", "1.36.3")
	refused := func(want string, args ...string) {
		t.Helper()
		out, err := w.dnf(args...)
		if err == nil || !strings.Contains(out, "No match for argument") || !strings.Contains(out, want) {
			t.Errorf("dnf install %v: err %v, output %q; want No match with %q", args, err, out, want)
		}
	}
	refused("no Kubernetes repository", "--disableexcludes=kubernetes", "kubeadm-1.35.4")
	w.repo("1.35")
	refused("--disableexcludes=kubernetes installs it", "kubeadm-1.35.4")
	refused("serves v1.35", "--disableexcludes=kubernetes", "kubeadm-1.36.3")
	refused("the package source has Kubernetes 1.35.4 1.36.3", "--disableexcludes=kubernetes", "kubelet-1.35.9")
	refused("", "kforge-unknown")

	// First boot: dnf installs; containerd, started after, imports the
	// images of every release, as a registry serves them all.
	if out, err := w.dnf("--disableexcludes=kubernetes", "kubelet-1.35.4", "kubeadm-1.35.4", "kubectl-1.35.4"); err != nil {
		t.Fatalf("dnf install 1.35.4: %v\n%s", err, out)
	}
	for f, want := range map[string]string{"usr/bin/kubeadm": "kubeadm 1.35.4\n", "usr/bin/kubelet": "kubelet 1.35.4\n", "usr/bin/kubectl": "kubectl 1.35.4\n",
		"opt/cni/bin/bridge": "bridge 1.35.4\n", "usr/lib/systemd/system/kubelet.service": "kubelet.service 1.35.4\n"} {
		if got := w.read(f); got != want {
			t.Errorf("after installing 1.35.4, %s = %q, want %q", f, got, want)
		}
	}
	if got := w.read("ctr.log"); got != "" {
		t.Errorf("dnf imported images: %q", got)
	}
	out, err := w.run(importImages)
	if err != nil {
		t.Fatalf("import-images: %v\n%s", err, out)
	}
	var want string
	for _, v := range []string{"1.35.4", "1.36.3"} {
		for _, img := range []string{"etcd", "pause"} {
			want += "-n k8s.io images import " + filepath.Join(w.pkgs, v, "images", img+".tar") + "\n"
		}
	}
	if got := w.read("ctr.log"); got != want {
		t.Errorf("containerd's start imported %q, want %q", got, want)
	}
	if !strings.Contains(out, "imported the images of Kubernetes 1.35.4 1.36.3") {
		t.Errorf("import-images said %q", out)
	}

	// The upgrade: the agent moves the repository to the next minor and
	// installs the new kubeadm, whose images containerd holds already.
	w.repo("1.36")
	refused("serves v1.36", "--disableexcludes=kubernetes", "kubelet-1.35.4")
	if out, err := w.dnf("--disableexcludes=kubernetes", "kubeadm-1.36.3"); err != nil {
		t.Fatalf("dnf install kubeadm-1.36.3: %v\n%s", err, out)
	}
	if got := w.read("usr/bin/kubeadm"); got != "kubeadm 1.36.3\n" {
		t.Errorf("after the upgrade's install, kubeadm is %q", got)
	}
	if got := w.read("usr/bin/kubelet"); got != "kubelet 1.35.4\n" {
		t.Errorf("installing kubeadm changed the kubelet: %q", got)
	}
}

// containerd comes from the source's first release (it does not depend on
// the Kubernetes release), and needs Debian's runc in the base.
func TestDNFStandInContainerd(t *testing.T) {
	if _, err := exec.LookPath("dpkg-query"); err != nil {
		t.Skip("no dpkg-query on this machine")
	}
	w := newDNFWorld(t, "1.35.4", "1.36.3")
	out, err := w.dnf("containerd")
	installed := exec.Command("sh", "-c", `dpkg-query -W -f='${Status}' runc | grep -q 'install ok installed'`).Run() == nil
	if !installed {
		if err == nil || !strings.Contains(out, "needs Debian's runc") {
			t.Fatalf("without runc: err %v, output %q", err, out)
		}
		return
	}
	if err != nil {
		t.Fatalf("dnf install containerd: %v\n%s", err, out)
	}
	if got := w.read("usr/local/bin/containerd"); got != "containerd 1.35.4\n" {
		t.Errorf("containerd = %q", got)
	}
}

// Every release of the source is mounted at its own directory.
func TestPackageFilesMountEveryRelease(t *testing.T) {
	spec := InstanceSpec{Files: map[string]File{}}
	packageFiles(&spec, []*Packages{{Dir: "/c/packages-1.35.4-r2", Kubernetes: "1.35.4"}, {Dir: "/c/packages-1.36.3-r2", Kubernetes: "1.36.3"}})
	want := []string{"--bind-ro=/c/packages-1.35.4-r2:" + PackagesMount + "/1.35.4", "--bind-ro=/c/packages-1.36.3-r2:" + PackagesMount + "/1.36.3"}
	if strings.Join(spec.NspawnArgs, " ") != strings.Join(want, " ") {
		t.Errorf("mounts %v, want %v", spec.NspawnArgs, want)
	}
	for _, f := range []string{"/usr/local/bin/dnf", "/usr/local/lib/kforge-lab/import-images", "/etc/systemd/system/containerd.service.d/10-kforge-lab-images.conf"} {
		if _, ok := spec.Files[f]; !ok {
			t.Errorf("no %s", f)
		}
	}
}
