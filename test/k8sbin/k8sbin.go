// Package k8sbin builds the upstream Kubernetes binaries (kubeadm,
// kube-apiserver, kube-controller-manager, kube-scheduler, kubelet, kubectl)
// and etcd from the Go module proxy, and caches them by version under the
// user's cache directory (<os.UserCacheDir>/kforge/k8s/<version>/bin).
//
// `go install k8s.io/kubernetes/cmd/kubeadm@vX` is refused because that module
// replaces its staging modules with local directories, so the binaries are
// built inside a small wrapper module that requires k8s.io/kubernetes vX.Y.Z
// and replaces every k8s.io staging module with its published v0.Y.Z. etcd is
// built from go.etcd.io/etcd/server/v3/etcdmain at the version that module
// graph resolves, so it is the etcd Kubernetes itself is tested with.
package k8sbin

import (
	"bufio"
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/kforge/kforge/internal/digest"
)

// recipe changes whenever the way binaries are built changes, so that a cache
// filled by an older recipe is rebuilt instead of trusted.
const recipe = "3"

// Binaries are the programs every build produces, by file name in Dir.
var Binaries = []string{
	"kubeadm", "kube-apiserver", "kube-controller-manager", "kube-scheduler",
	"kubelet", "kubectl", "etcd", "kubeletcheck",
}

// commands maps each binary to the package it is built from inside the
// wrapper module (the wrapper's own commands live under ./cmd).
var commands = map[string]string{
	"kubeadm":                 "k8s.io/kubernetes/cmd/kubeadm",
	"kube-apiserver":          "k8s.io/kubernetes/cmd/kube-apiserver",
	"kube-controller-manager": "k8s.io/kubernetes/cmd/kube-controller-manager",
	"kube-scheduler":          "k8s.io/kubernetes/cmd/kube-scheduler",
	"kubelet":                 "k8s.io/kubernetes/cmd/kubelet",
	"kubectl":                 "k8s.io/kubernetes/cmd/kubectl",
	"etcd":                    "./cmd/etcd",
	"kubeletcheck":            "./cmd/kubeletcheck",
}

// wrapperSources are the wrapper module's own commands; they carry an
// "ignore" build constraint so that kforge's module never compiles them.
//
//go:embed wrapper/etcd/main.go wrapper/kubeletcheck/main.go
var wrapperSources embed.FS

// Options says what to build.
type Options struct {
	// Minor is the Kubernetes minor release ("1.36"). The newest patch of it
	// that the module proxy serves is built, unless Version is set.
	Minor string
	// Version pins an exact release ("1.36.3"); it wins over Minor.
	Version string
	// CacheDir overrides <os.UserCacheDir>/kforge/k8s.
	CacheDir string
	// Log receives progress and the go tool's output; nil discards it.
	Log io.Writer
}

// Result describes a built (or cached) set of binaries.
type Result struct {
	Version     string            `json:"version"`     // "1.36.3"
	EtcdVersion string            `json:"etcdVersion"` // "3.6.8"
	Dir         string            `json:"dir"`         // directory holding the binaries
	SHA256      map[string]string `json:"sha256"`      // binary name -> hex digest
	Recipe      string            `json:"recipe"`
	GoVersion   string            `json:"goVersion"`
	BuiltAt     time.Time         `json:"builtAt"`
	BuildTime   string            `json:"buildTime"` // how long the cold build took
	Cached      bool              `json:"-"`         // true when nothing was built
}

// Path returns the full path of one binary.
func (r *Result) Path(name string) string { return filepath.Join(r.Dir, name) }

// DefaultCacheDir is <os.UserCacheDir>/kforge/k8s.
func DefaultCacheDir() (string, error) {
	base, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("finding the user cache directory: %w", err)
	}
	return filepath.Join(base, "kforge", "k8s"), nil
}

var (
	minorRE   = regexp.MustCompile(`^1\.(\d+)$`)
	versionRE = regexp.MustCompile(`^1\.(\d+)\.(\d+)$`)
)

// Build returns the binaries for opts, building them when the cache does not
// hold a complete set. Concurrent builds of the same version (from other
// processes too) wait for one another through a lock file.
func Build(ctx context.Context, opts Options) (*Result, error) {
	logw := opts.Log
	if logw == nil {
		logw = io.Discard
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		var err error
		if cacheDir, err = DefaultCacheDir(); err != nil {
			return nil, err
		}
	}
	version := strings.TrimPrefix(opts.Version, "v")
	if version == "" {
		if !minorRE.MatchString(opts.Minor) {
			return nil, fmt.Errorf("minor %q: want MAJOR.MINOR such as 1.36", opts.Minor)
		}
		v, err := NewestPatch(ctx, opts.Minor)
		if err != nil {
			// Offline: fall back to the newest complete build in the cache.
			cached, cerr := newestCached(cacheDir, opts.Minor)
			if cerr != nil || cached == "" {
				return nil, err
			}
			fmt.Fprintf(logw, "k8sbin: %v; using cached %s\n", err, cached)
			v = cached
		}
		version = v
	}
	if !versionRE.MatchString(version) {
		return nil, fmt.Errorf("version %q: want MAJOR.MINOR.PATCH such as 1.36.3", version)
	}
	root := filepath.Join(cacheDir, version)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, fmt.Errorf("creating the cache directory: %w", err)
	}
	if r, err := readManifest(root); err == nil {
		r.Cached = true
		return r, nil
	}

	unlock, err := lock(ctx, filepath.Join(root, ".lock"), logw)
	if err != nil {
		return nil, err
	}
	defer unlock()
	// Someone else may have finished the build while we waited.
	if r, err := readManifest(root); err == nil {
		r.Cached = true
		return r, nil
	}
	return build(ctx, root, version, logw)
}

// NewestPatch asks the module proxy (through the go tool) for the newest
// k8s.io/kubernetes release of minor ("1.36") and returns it as "1.36.3".
func NewestPatch(ctx context.Context, minor string) (string, error) {
	m := minorRE.FindStringSubmatch(minor)
	if m == nil {
		return "", fmt.Errorf("minor %q: want MAJOR.MINOR such as 1.36", minor)
	}
	out, err := goCmd(ctx, os.TempDir(), nil, "list", "-m", "-versions", "k8s.io/kubernetes")
	if err != nil {
		return "", fmt.Errorf("listing k8s.io/kubernetes versions: %w", err)
	}
	best := -1
	for _, v := range strings.Fields(string(out)) {
		mm := versionRE.FindStringSubmatch(strings.TrimPrefix(v, "v"))
		if mm == nil || mm[1] != m[1] {
			continue // other minor, or a pre-release
		}
		if p, _ := strconv.Atoi(mm[2]); p > best {
			best = p
		}
	}
	if best < 0 {
		return "", fmt.Errorf("the module proxy serves no k8s.io/kubernetes release of %s", minor)
	}
	return fmt.Sprintf("%s.%d", minor, best), nil
}

// newestCached returns the newest complete cached build of minor, or "".
func newestCached(cacheDir, minor string) (string, error) {
	entries, err := os.ReadDir(cacheDir)
	if err != nil {
		return "", err
	}
	best, bestPatch := "", -1
	for _, e := range entries {
		mm := versionRE.FindStringSubmatch(e.Name())
		if mm == nil || "1."+mm[1] != minor {
			continue
		}
		if _, err := readManifest(filepath.Join(cacheDir, e.Name())); err != nil {
			continue
		}
		if p, _ := strconv.Atoi(mm[2]); p > bestPatch {
			best, bestPatch = e.Name(), p
		}
	}
	return best, nil
}

const manifestName = "manifest.json"

// readManifest returns the cached result in root when it is complete and
// every binary still has the digest recorded when it was built.
func readManifest(root string) (*Result, error) {
	raw, err := os.ReadFile(filepath.Join(root, manifestName))
	if err != nil {
		return nil, err
	}
	var r Result
	if err := json.Unmarshal(raw, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", manifestName, err)
	}
	if r.Recipe != recipe {
		return nil, fmt.Errorf("built by recipe %q, want %q", r.Recipe, recipe)
	}
	r.Dir = filepath.Join(root, "bin")
	for _, name := range Binaries {
		sum, err := digest.File(r.Path(name))
		if err != nil {
			return nil, err
		}
		if sum != r.SHA256[name] {
			return nil, fmt.Errorf("%s: digest %s, recorded %s", name, sum, r.SHA256[name])
		}
	}
	return &r, nil
}

// lock takes an exclusive flock on path, polling so that ctx can cancel.
func lock(ctx context.Context, path string, logw io.Writer) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("opening the build lock: %w", err)
	}
	said := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			_ = f.Close()
			return nil, fmt.Errorf("locking %s: %w", path, err)
		}
		if !said {
			fmt.Fprintf(logw, "k8sbin: another build of this version is running; waiting for %s\n", path)
			said = true
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

// build writes the wrapper module under root/src, builds into root/bin and
// writes the manifest last, so an interrupted build is never taken as done.
func build(ctx context.Context, root, version string, logw io.Writer) (*Result, error) {
	start := time.Now()
	minor := version[:strings.LastIndex(version, ".")]
	patch := version[strings.LastIndex(version, ".")+1:]
	stagingVersion := "v0." + strings.TrimPrefix(minor, "1.") + "." + patch
	src := filepath.Join(root, "src")
	bin := filepath.Join(root, "bin")
	for _, d := range []string{src, bin} {
		if err := os.RemoveAll(d); err != nil {
			return nil, fmt.Errorf("cleaning %s: %w", d, err)
		}
	}
	if err := os.MkdirAll(filepath.Join(src, "cmd"), 0o755); err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "k8sbin: building Kubernetes v%s in %s\n", version, root)

	staging, err := stagingModules(ctx, src, version)
	if err != nil {
		return nil, err
	}
	var gomod bytes.Buffer
	fmt.Fprintf(&gomod, "module kforge.local/k8sbin\n\ngo 1.25\n\nrequire k8s.io/kubernetes v%s\n\n", version)
	for _, m := range staging {
		fmt.Fprintf(&gomod, "replace %s => %s %s\n", m, m, stagingVersion)
	}
	if err := os.WriteFile(filepath.Join(src, "go.mod"), gomod.Bytes(), 0o644); err != nil {
		return nil, err
	}
	var tools bytes.Buffer
	tools.WriteString("//go:build tools\n\n// Package tools pins the commands this module builds.\npackage tools\n\nimport (\n")
	for _, name := range Binaries {
		if pkg := commands[name]; !strings.HasPrefix(pkg, "./") {
			fmt.Fprintf(&tools, "\t_ %q\n", pkg)
		}
	}
	tools.WriteString(")\n")
	if err := os.WriteFile(filepath.Join(src, "tools.go"), tools.Bytes(), 0o644); err != nil {
		return nil, err
	}
	for _, name := range []string{"etcd", "kubeletcheck"} {
		raw, err := wrapperSources.ReadFile("wrapper/" + name + "/main.go")
		if err != nil {
			return nil, err
		}
		raw = bytes.Replace(raw, []byte("//go:build ignore\n\n"), nil, 1)
		dir := filepath.Join(src, "cmd", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(filepath.Join(dir, "main.go"), raw, 0o644); err != nil {
			return nil, err
		}
	}
	env := []string{"CGO_ENABLED=0", "GOFLAGS=-mod=mod", "GOWORK=off"}
	if out, err := goCmd(ctx, src, env, "mod", "tidy"); err != nil {
		return nil, fmt.Errorf("go mod tidy in the wrapper module: %w\n%s", err, out)
	}
	etcdVersion, err := moduleVersion(ctx, src, env, "go.etcd.io/etcd/server/v3")
	if err != nil {
		return nil, err
	}
	major := "1"
	ldflags := strings.Join([]string{
		"-s", "-w",
		"-X k8s.io/component-base/version.gitVersion=v" + version,
		"-X k8s.io/component-base/version.gitMajor=" + major,
		"-X k8s.io/component-base/version.gitMinor=" + strings.TrimPrefix(minor, "1."),
		"-X k8s.io/component-base/version.gitTreeState=clean",
		"-X k8s.io/component-base/version.buildDate=" + start.UTC().Format(time.RFC3339),
		"-X k8s.io/client-go/pkg/version.gitVersion=v" + version,
		"-X k8s.io/client-go/pkg/version.gitMajor=" + major,
		"-X k8s.io/client-go/pkg/version.gitMinor=" + strings.TrimPrefix(minor, "1."),
	}, " ")
	args := []string{"build", "-trimpath", "-ldflags", ldflags, "-o", bin + string(os.PathSeparator)}
	for _, name := range Binaries {
		args = append(args, commands[name])
	}
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return nil, err
	}
	if out, err := goCmdLog(ctx, src, env, logw, args...); err != nil {
		return nil, fmt.Errorf("building Kubernetes v%s: %w\n%s", version, err, out)
	}
	r := &Result{
		Version: version, EtcdVersion: strings.TrimPrefix(etcdVersion, "v"), Dir: bin,
		SHA256: map[string]string{}, Recipe: recipe, GoVersion: runtime.Version(),
		BuiltAt: time.Now().UTC(), BuildTime: time.Since(start).Round(time.Second).String(),
	}
	for _, name := range Binaries {
		sum, err := digest.File(r.Path(name))
		if err != nil {
			return nil, fmt.Errorf("the build did not produce %s: %w", name, err)
		}
		r.SHA256[name] = sum
	}
	raw, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	tmp := filepath.Join(root, manifestName+".tmp")
	if err := os.WriteFile(tmp, append(raw, '\n'), 0o644); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, filepath.Join(root, manifestName)); err != nil {
		return nil, err
	}
	fmt.Fprintf(logw, "k8sbin: built Kubernetes v%s (etcd %s) in %s\n", version, r.EtcdVersion, r.BuildTime)
	return r, nil
}

// stagingModules reads k8s.io/kubernetes' own go.mod and returns the k8s.io
// modules it replaces with ./staging directories. sample-cli-plugin is left
// out: it is not published on the module proxy and nothing here imports it.
func stagingModules(ctx context.Context, dir, version string) ([]string, error) {
	out, err := goCmd(ctx, dir, []string{"GOWORK=off"}, "mod", "download", "-json", "k8s.io/kubernetes@v"+version)
	if err != nil {
		return nil, fmt.Errorf("downloading k8s.io/kubernetes v%s: %w\n%s", version, err, out)
	}
	var info struct{ GoMod string }
	if err := json.Unmarshal(out, &info); err != nil || info.GoMod == "" {
		return nil, fmt.Errorf("reading go mod download output for k8s.io/kubernetes v%s: %v", version, err)
	}
	raw, err := os.ReadFile(info.GoMod)
	if err != nil {
		return nil, err
	}
	re := regexp.MustCompile(`^\s*(?:replace\s+)?(k8s\.io/[A-Za-z0-9._-]+)\s+=>\s+\./staging/`)
	var mods []string
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil && m[1] != "k8s.io/sample-cli-plugin" {
			mods = append(mods, m[1])
		}
	}
	if len(mods) == 0 {
		return nil, fmt.Errorf("k8s.io/kubernetes v%s: no staging replacements found in its go.mod", version)
	}
	sort.Strings(mods)
	return mods, nil
}

func moduleVersion(ctx context.Context, dir string, env []string, module string) (string, error) {
	out, err := goCmd(ctx, dir, env, "list", "-m", "-f", "{{.Version}}", module)
	if err != nil {
		return "", fmt.Errorf("resolving %s: %w\n%s", module, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func goCmd(ctx context.Context, dir string, env []string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return append(out, stderr.Bytes()...), err
	}
	return out, nil
}

// goCmdLog runs the go tool with its output streamed to logw and keeps the
// tail for the error message.
func goCmdLog(ctx context.Context, dir string, env []string, logw io.Writer, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var buf bytes.Buffer
	cmd.Stdout = io.MultiWriter(&buf, logw)
	cmd.Stderr = cmd.Stdout
	err := cmd.Run()
	out := buf.Bytes()
	if len(out) > 8000 {
		out = out[len(out)-8000:]
	}
	return out, err
}
