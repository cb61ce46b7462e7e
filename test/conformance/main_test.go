// Package conformance makes real Kubernetes binaries the judge of every
// artifact kforge renders for its nodes: the kubeadm and kubelet
// configurations, the static pods kubeadm derives from them, the add-on
// manifests, cert-manager's ClusterIssuers and the Cilium chart with
// kforge's values. It runs for every minor in
// config.SupportedKubernetesVersions(), so a minor cannot be added to that
// list without passing it.
//
// The binaries are built from the Go module proxy by test/k8sbin and cached.
// The checks run in a sandbox: the test binary re-executes itself in new
// network and mount namespaces, where /etc, /var/lib and /var/log are overlays on
// temporary directories. kubeadm then writes where it always does, nothing
// reaches the host's files, and the control plane listens on the node's own
// address (added to the sandbox's loopback) with no port shared with the host.
package conformance

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/test/k8sbin"
)

const (
	sandboxEnv = "KFORGE_CONFORMANCE_SANDBOX"
	binsEnv    = "KFORGE_CONFORMANCE_BINS"
)

// bins maps a supported minor ("1.36") to its built binaries.
var bins map[string]*k8sbin.Result

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		// make unit runs go test -short ./...; the suite has its own target.
		os.Exit(m.Run())
	}
	if os.Getenv(sandboxEnv) == "" {
		os.Exit(outside())
	}
	if err := json.Unmarshal([]byte(os.Getenv(binsEnv)), &bins); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", binsEnv, err)
		os.Exit(1)
	}
	cleanup, err := enterSandbox()
	if err != nil {
		fmt.Fprintln(os.Stderr, "conformance: setting up the sandbox:", err)
		os.Exit(1)
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// outside builds (or finds cached) binaries for every supported minor, then
// runs this test binary again inside new network and mount namespaces.
func outside() int {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Hour)
	defer cancel()
	built := map[string]*k8sbin.Result{}
	for _, r := range config.SupportedKubernetesVersions() {
		start := time.Now()
		res, err := k8sbin.Build(ctx, k8sbin.Options{Minor: r.Minor, Log: os.Stderr})
		if err != nil {
			fmt.Fprintf(os.Stderr, "conformance: building Kubernetes %s: %v\n", r.Minor, err)
			return 1
		}
		how := "built in " + time.Since(start).Round(time.Second).String()
		if res.Cached {
			how = "cached"
		}
		note := ""
		if res.Version != r.LatestPatch {
			note = fmt.Sprintf(" (kforge pins %s; the module proxy's newest %s release is %s)", r.LatestPatch, r.Minor, res.Version)
		}
		fmt.Fprintf(os.Stderr, "conformance: Kubernetes %s binaries %s (etcd %s) in %s%s\n", res.Version, how, res.EtcdVersion, res.Dir, note)
		built[r.Minor] = res
	}
	raw, err := json.Marshal(built)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		fmt.Fprintln(os.Stderr, "conformance: unshare (util-linux) is required to run the control plane in its own namespaces:", err)
		return 1
	}
	cmd := exec.Command("unshare", append([]string{"--net", "--mount", "--propagation", "private", "--fork", "--", os.Args[0]}, os.Args[1:]...)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), sandboxEnv+"=1", binsEnv+"="+string(raw))
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		fmt.Fprintln(os.Stderr, "conformance: running the sandbox:", err)
		return 1
	}
	return 0
}

// Addresses of the sandboxed control plane: the private address and API
// name kforge renders, as on a real node.
const (
	nodeIP     = "10.0.1.10"
	workerIP   = "10.0.2.20"
	apiDNSName = "api.dev.example.com"
)

// enterSandbox runs inside the new namespaces: overlays over /etc,
// /var/lib and /var/log (the API server's audit log), loopback up with
// the node's address, api.<domain> in /etc/hosts (as the agent writes it).
func enterSandbox() (func(), error) {
	tmp, err := os.MkdirTemp("", "kforge-conformance-")
	if err != nil {
		return nil, err
	}
	cleanup := func() { _ = os.RemoveAll(tmp) }
	for i, dir := range []string{"/etc", "/var/lib", "/var/log"} {
		upper := filepath.Join(tmp, fmt.Sprintf("upper%d", i))
		work := filepath.Join(tmp, fmt.Sprintf("work%d", i))
		for _, d := range []string{upper, work} {
			if err := os.MkdirAll(d, 0o755); err != nil {
				cleanup()
				return nil, err
			}
		}
		opts := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", dir, upper, work)
		if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", opts, dir).CombinedOutput(); err != nil {
			cleanup()
			return nil, fmt.Errorf("overlay on %s: %v: %s", dir, err, out)
		}
	}
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", nodeIP + "/32", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			cleanup()
			return nil, fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	f, err := os.OpenFile("/etc/hosts", os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		cleanup()
		return nil, err
	}
	_, err = fmt.Fprintf(f, "%s %s # kforge\n", nodeIP, apiDNSName)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		cleanup()
		return nil, err
	}
	return cleanup, nil
}
