package lab

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/kforge/kforge/internal/digest"
	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/test/k8sbin"
)

// The lab's package source: what a node's `dnf install` would fetch on AWS
// (containerd, the Kubernetes packages and the CNI plugins the kubelet
// package depends on) and the images kubeadm pulls, all built offline from
// the Go module proxy and cached under CacheDir()/packages-<version>-r<rev>.
// Each node gets the directory read-only at PackagesMount.
const (
	// ContainerdVersion is the containerd release the nodes run: containerd
	// 2.x, the line Kubernetes 1.36 supports (1.x support ended with 1.35).
	ContainerdVersion = "v2.3.7"
	// CNIPluginsVersion is the reference CNI plugins release (bridge,
	// host-local, loopback, portmap).
	CNIPluginsVersion = "v1.9.1"
	// PackagesMount is where a node sees the package source.
	PackagesMount = "/opt/kforge-lab/packages"
	// packagesRevision changes whenever the layout or an image recipe
	// changes, so an older cache is rebuilt instead of trusted.
	packagesRevision = "2"
)

// Packages is a built package source.
type Packages struct {
	// Dir is the directory on the host.
	Dir string `json:"dir"`
	// Kubernetes is the release of the binaries and images ("1.36.3").
	Kubernetes string `json:"kubernetes"`
	// Images are the references kubeadm expects, as imported on the nodes.
	Images []string `json:"images"`
	// SHA256 is every file's digest, by path relative to Dir.
	SHA256 map[string]string `json:"sha256"`
	// BuildTime is how long the cold build took.
	BuildTime string `json:"buildTime"`
}

// PackagesOptions says which Kubernetes release to serve.
type PackagesOptions struct {
	// Minor ("1.36") serves the newest patch the module proxy has (or the
	// newest cached one offline); Version ("1.36.3") pins one.
	Minor, Version string
	Log            io.Writer
}

// EnsurePackages returns the package source for a Kubernetes release,
// building what is missing the first time: the Kubernetes binaries through
// test/k8sbin (shared with make conformance), containerd, the CNI plugins,
// CoreDNS, etcdctl/etcdutl and pause, then the images.
func EnsurePackages(ctx context.Context, opts PackagesOptions) (*Packages, error) {
	log := opts.Log
	if log == nil {
		log = io.Discard
	}
	start := time.Now()
	k8s, err := k8sbin.Build(ctx, k8sbin.Options{Minor: opts.Minor, Version: opts.Version, Log: log})
	if err != nil {
		return nil, fmt.Errorf("the Kubernetes binaries for the lab's package source: %w", err)
	}
	cache, err := CacheDir()
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(cache, "packages-"+k8s.Version+"-r"+packagesRevision)
	// The source holds exactly the images kubeadm names (the lab's
	// registry serves nothing else), so a cache built with more, or
	// fewer, is rebuilt.
	refs, err := kubeadmImages(ctx, k8s.Path("kubeadm"), k8s.Version)
	if err != nil {
		return nil, err
	}
	if p, err := readPackages(dir); err == nil && slices.Equal(p.Images, refs) {
		return p, nil
	}
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("creating %s: %w", cache, err)
	}
	unlock, err := lockFile(ctx, filepath.Join(cache, "packages.lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	if p, err := readPackages(dir); err == nil && slices.Equal(p.Images, refs) {
		return p, nil
	}
	fmt.Fprintf(log, "lab: building the package source for Kubernetes %s (once; cached in %s)\n", k8s.Version, dir)
	tmp := dir + ".partial"
	if err := os.RemoveAll(tmp); err != nil {
		return nil, fmt.Errorf("removing an interrupted build %s: %w", tmp, err)
	}
	for _, d := range []string{"bin", "cni", "images", "units"} {
		if err := os.MkdirAll(filepath.Join(tmp, d), 0o755); err != nil {
			return nil, fmt.Errorf("creating %s: %w", d, err)
		}
	}
	// The Kubernetes packages' binaries.
	for _, b := range []string{"kubeadm", "kubelet", "kubectl"} {
		if err := linkOrCopy(k8s.Path(b), filepath.Join(tmp, "bin", b)); err != nil {
			return nil, err
		}
	}
	builds, err := goBuilds(refs)
	if err != nil {
		return nil, err
	}
	if err := runParallel(ctx, goBuildParallelism, builds, log); err != nil {
		return nil, err
	}
	// Every Go build below is now cached: each call returns its directory.
	ctrd, err := buildContainerd(ctx, log)
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"containerd", "containerd-shim-runc-v2", "ctr"} {
		if err := linkOrCopy(filepath.Join(ctrd, b), filepath.Join(tmp, "bin", b)); err != nil {
			return nil, err
		}
	}
	if err := containerdUnit(ctx, filepath.Join(tmp, "units", "containerd.service")); err != nil {
		return nil, err
	}
	cni, err := buildCNIPlugins(ctx, log)
	if err != nil {
		return nil, err
	}
	for _, b := range []string{"bridge", "host-local", "loopback", "portmap"} {
		if err := linkOrCopy(filepath.Join(cni, b), filepath.Join(tmp, "cni", b)); err != nil {
			return nil, err
		}
	}
	for name, data := range kubeletUnits {
		if err := os.WriteFile(filepath.Join(tmp, "units", name), []byte(data), 0o644); err != nil {
			return nil, fmt.Errorf("writing %s: %w", name, err)
		}
	}
	if err := buildImages(ctx, log, k8s, refs, filepath.Join(tmp, "images")); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "kubernetes-version"), []byte(k8s.Version+"\n"), 0o644); err != nil {
		return nil, err
	}
	p := &Packages{Dir: dir, Kubernetes: k8s.Version, Images: refs, BuildTime: time.Since(start).Round(time.Second).String()}
	if p.SHA256, err = digests(tmp); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(tmp, "packages.json"), data, 0o644); err != nil {
		return nil, err
	}
	if err := os.RemoveAll(dir); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return nil, fmt.Errorf("moving the package source into place: %w", err)
	}
	fmt.Fprintf(log, "lab: package source for Kubernetes %s built in %s\n", k8s.Version, p.BuildTime)
	return p, nil
}

// readPackages returns a complete package source, checking every file
// against its recorded digest.
func readPackages(dir string) (*Packages, error) {
	data, err := os.ReadFile(filepath.Join(dir, "packages.json"))
	if err != nil {
		return nil, err
	}
	var p Packages
	if err := json.Unmarshal(data, &p); err != nil {
		return nil, fmt.Errorf("%s/packages.json: %w", dir, err)
	}
	got, err := digests(dir)
	if err != nil {
		return nil, err
	}
	delete(got, "packages.json")
	if len(got) != len(p.SHA256) {
		return nil, fmt.Errorf("%s: %d files, manifest lists %d", dir, len(got), len(p.SHA256))
	}
	for k, v := range p.SHA256 {
		if got[k] != v {
			return nil, fmt.Errorf("%s: %s does not match its recorded SHA-256", dir, k)
		}
	}
	p.Dir = dir
	return &p, nil
}

// digests is the SHA-256 of every regular file under dir.
func digests(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		sum, err := digest.File(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		out[rel] = sum
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("hashing %s: %w", dir, err)
	}
	return out, nil
}

// kubeadmImages asks kubeadm itself which images it pulls for version.
func kubeadmImages(ctx context.Context, kubeadmBin, version string) ([]string, error) {
	out, err := run(ctx, kubeadmBin, kubeadm.ImagesListArgs(version)...)
	if err != nil {
		return nil, fmt.Errorf("listing the images kubeadm %s expects: %w", version, err)
	}
	return kubeadm.ParseImages(out), nil
}

// goTools builds Go commands from the module proxy into a cached directory
// CacheDir()/bin/<name>. They are built inside a throwaway module that
// requires the given modules, so a module whose go.mod carries replace
// directives (which `go install pkg@version` refuses) builds too, with the
// dependency versions its release pins.
func goTools(ctx context.Context, log io.Writer, name string, requires, pkgs []string, tags string) (string, error) {
	return goBuild(ctx, log, name, requires, "", append([]string{"-o", "DST/"}, pkgs...), tags)
}

// goToolsMain builds one command from a main package of its own (main.go,
// importing from the required modules) into CacheDir()/bin/<name>/<bin>.
func goToolsMain(ctx context.Context, log io.Writer, name string, requires []string, mainSrc, bin string) (string, error) {
	return goBuild(ctx, log, name, requires, mainSrc, []string{"-o", "DST/" + bin, "."}, "")
}

// goBuild is goTools and goToolsMain: "DST" in the build arguments stands
// for the destination directory.
func goBuild(ctx context.Context, log io.Writer, name string, requires []string, mainSrc string, buildArgs []string, tags string) (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dst := filepath.Join(cache, "bin", name)
	if _, err := os.Stat(filepath.Join(dst, ".complete")); err == nil {
		return dst, nil
	}
	if err := os.MkdirAll(filepath.Join(cache, "bin"), 0o755); err != nil {
		return "", err
	}
	// One lock per build, so different builds can run at once.
	unlock, err := lockFile(ctx, filepath.Join(cache, "bin", name+".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if _, err := os.Stat(filepath.Join(dst, ".complete")); err == nil {
		return dst, nil
	}
	start := time.Now()
	fmt.Fprintf(log, "lab: building %s from the Go module proxy (once)\n", name)
	mod, err := os.MkdirTemp("", "kforge-lab-build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(mod)
	if err := os.RemoveAll(dst); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return "", err
	}
	gocmd := func(args ...string) error {
		cmd := exec.CommandContext(ctx, "go", args...)
		cmd.Dir = mod
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("building %s (go %s): %w: %s", name, strings.Join(args, " "), err, tailString(string(out), 2000))
		}
		return nil
	}
	if err := gocmd("mod", "init", "kforge.lab/build"); err != nil {
		return "", err
	}
	if err := gocmd(append([]string{"get"}, requires...)...); err != nil {
		return "", err
	}
	if mainSrc != "" {
		if err := os.WriteFile(filepath.Join(mod, "main.go"), []byte(mainSrc), 0o644); err != nil {
			return "", err
		}
	}
	args := []string{"build", "-trimpath", "-ldflags=-s -w"}
	if tags != "" {
		args = append(args, "-tags", tags)
	}
	for _, a := range buildArgs {
		args = append(args, strings.ReplaceAll(a, "DST", dst))
	}
	if err := gocmd(args...); err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(dst, ".complete"), []byte(strings.Join(requires, "\n")+"\n"), 0o644); err != nil {
		return "", err
	}
	fmt.Fprintf(log, "lab: built %s in %s\n", name, time.Since(start).Round(time.Second))
	return dst, nil
}

// containerdUnit copies containerd's own systemd unit from its release's
// module (what the containerd package installs).
func containerdUnit(ctx context.Context, dst string) error {
	dir, err := moduleDir(ctx, "github.com/containerd/containerd/v2@"+ContainerdVersion)
	if err != nil {
		return err
	}
	return copyFile(filepath.Join(dir, "containerd.service"), dst, 0o644)
}

// moduleDir downloads a module (from the module cache when it is there)
// and returns its directory.
func moduleDir(ctx context.Context, mod string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", "mod", "download", "-json", mod)
	cmd.Env = append(os.Environ(), "GOWORK=off")
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go mod download %s: %w", mod, err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(out, &m); err != nil || m.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no directory in %q", mod, out)
	}
	return m.Dir, nil
}

func linkOrCopy(src, dst string) error {
	if err := os.Link(src, dst); err == nil {
		return nil
	}
	return copyFile(src, dst, 0o755)
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("copying %s: %w", src, err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		return fmt.Errorf("copying to %s: %w", dst, err)
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return fmt.Errorf("copying %s to %s: %w", src, dst, err)
	}
	return out.Close()
}

func tailString(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// kubeletUnits are the units the Kubernetes kubelet package installs
// (kubernetes/release's kubelet.service and kubeadm's 10-kubeadm.conf
// drop-in), with the binary in /usr/bin as the package has it.
var kubeletUnits = map[string]string{
	"kubelet.service": `[Unit]
Description=kubelet: The Kubernetes Node Agent
Documentation=https://kubernetes.io/docs/
Wants=network-online.target
After=network-online.target

[Service]
ExecStart=/usr/bin/kubelet
Restart=always
StartLimitInterval=0
RestartSec=10

[Install]
WantedBy=multi-user.target
`,
	"10-kubeadm.conf": `# Note: This dropin only works with kubeadm and kubelet v1.11+
[Service]
Environment="KUBELET_KUBECONFIG_ARGS=--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --kubeconfig=/etc/kubernetes/kubelet.conf"
Environment="KUBELET_CONFIG_ARGS=--config=/var/lib/kubelet/config.yaml"
# This is a file that "kubeadm init" and "kubeadm join" generates at runtime, populating the KUBELET_KUBEADM_ARGS variable dynamically
EnvironmentFile=-/var/lib/kubelet/kubeadm-flags.env
# This is a file that the user can use for overrides of the kubelet args as a last resort.
EnvironmentFile=-/etc/sysconfig/kubelet
ExecStart=
ExecStart=/usr/bin/kubelet $KUBELET_KUBECONFIG_ARGS $KUBELET_CONFIG_ARGS $KUBELET_KUBEADM_ARGS $KUBELET_EXTRA_ARGS
`,
}
