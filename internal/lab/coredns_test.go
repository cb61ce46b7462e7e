package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestCorefileIsKubeadms renders the Corefile template of the kubeadm the
// lab serves (1.36.3, as cached by the module download k8sbin made) and
// compares it with the one the lab builds CoreDNS for.
func TestCorefileIsKubeadms(t *testing.T) {
	if testing.Short() {
		t.Skip("reads the k8s.io/kubernetes module; not in -short")
	}
	if err := checkCorefile(t.Context(), "1.36.3"); err != nil {
		t.Fatal(err)
	}
	if _, err := kubeadmsCorefile(filepath.Join(t.TempDir(), "missing.go")); err == nil {
		t.Error("a missing manifests file is not an error")
	}
}

func TestCorefileDirectives(t *testing.T) {
	got, err := corefileDirectives(kubeadmCorefile)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cache", "errors", "forward", "health", "kubernetes", "loadbalance", "loop", "prometheus", "ready", "reload"}
	if !slices.Equal(got, want) {
		t.Errorf("directives %v, want %v", got, want)
	}
	if _, err := corefileDirectives(".:53 {\n  errors\n"); err == nil {
		t.Error("an unbalanced Corefile parses")
	}
	main := corednsMain(got)
	if !strings.Contains(main, `"github.com/coredns/coredns/plugin/metrics"`) || strings.Contains(main, "plugin/prometheus") {
		t.Errorf("prometheus is registered by plugin/metrics:\n%s", main)
	}
}

// TestCoreDNSServesKubeadmsCorefile builds (or reuses) the lab's CoreDNS,
// checks that it carries the Corefile's plugins and no cloud plugin, and
// starts it with kubeadm's Corefile, changed only where a test on loopback
// must: the ports, the health listener, the upstream resolver (a file naming
// 127.0.0.1, so loop's self-query never leaves loopback) and a kubeconfig
// for the kubernetes plugin pointing at a closed loopback port (in a pod it
// uses its service account). Its health endpoint must answer 200.
func TestCoreDNSServesKubeadmsCorefile(t *testing.T) {
	if testing.Short() {
		t.Skip("builds CoreDNS; not in -short")
	}
	dir, err := buildCoreDNS(t.Context(), testLog{t}, "v1.14.2")
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "coredns")
	out, err := exec.Command(bin, "-plugins").Output()
	if err != nil {
		t.Fatal(err)
	}
	var listed []string
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" && !strings.HasSuffix(l, ":") {
			listed = append(listed, strings.TrimPrefix(l, "dns."))
		}
	}
	want, _ := corefileDirectives(kubeadmCorefile)
	for _, d := range want {
		if !slices.Contains(listed, d) {
			t.Errorf("coredns -plugins lacks %s, which the Corefile uses: %v", d, listed)
		}
	}
	// What the Corefile's plugins import themselves (forward and cache:
	// debug, dnstap, metadata; kubernetes: transfer) registers too; nothing else may.
	imported := []string{"debug", "dnstap", "metadata", "transfer"}
	for _, p := range listed {
		if !slices.Contains(want, p) && !slices.Contains(imported, p) && p != "dns" && p != "flag" && p != "default" {
			t.Errorf("coredns -plugins lists %s, which the Corefile does not use: %v", p, listed)
		}
	}

	tmp := t.TempDir()
	dnsPort, healthPort, closed := freePort(t), freePort(t), freePort(t)
	kubeconfig := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters: [{name: c, cluster: {server: "https://127.0.0.1:%d", insecure-skip-tls-verify: true}}]
users: [{name: u, user: {token: t}}]
contexts: [{name: c, context: {cluster: c, user: u}}]
current-context: c
`, closed)
	write := func(name, data string) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	kc := write("kubeconfig", kubeconfig)
	resolv := write("resolv.conf", "nameserver 127.0.0.1\n")
	corefile := strings.NewReplacer(
		".:53 {", fmt.Sprintf(".:%d {", dnsPort),
		"health {", fmt.Sprintf("health 127.0.0.1:%d {", healthPort),
		"ttl 30\n", "ttl 30\n       kubeconfig "+kc+"\n",
		"prometheus :9153", "prometheus 127.0.0.1:"+fmt.Sprint(freePort(t)),
		"forward . /etc/resolv.conf", "forward . "+resolv,
	).Replace(kubeadmCorefile)
	conf := write("Corefile", corefile)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "-conf", conf)
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() { cancel(); <-exited }()
	url := fmt.Sprintf("http://127.0.0.1:%d/health", healthPort)
	for deadline := time.Now().Add(60 * time.Second); ; {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("%s answered %s", url, resp.Status)
			}
			break
		}
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("CoreDNS with kubeadm's Corefile exited (%v):\n%s", err, log.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("CoreDNS with kubeadm's Corefile did not answer %s: %v\n%s", url, err, log.String())
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("CoreDNS serves kubeadm's Corefile; health answers on %s", url)
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRunParallel: at most n at once, in list order, every failure returned.
func TestRunParallel(t *testing.T) {
	var mu sync.Mutex
	running, peak := 0, 0
	var order []int
	fns := make([]func(context.Context, io.Writer) error, 5)
	for i := range fns {
		fns[i] = func(ctx context.Context, _ io.Writer) error {
			mu.Lock()
			order = append(order, i)
			running++
			peak = max(peak, running)
			mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			mu.Lock()
			running--
			mu.Unlock()
			return nil
		}
	}
	if err := runParallel(t.Context(), 2, fns, io.Discard); err != nil {
		t.Fatal(err)
	}
	if peak != 2 || len(order) != 5 || order[0] > 1 || order[1] > 1 {
		t.Errorf("peak %d, order %v; want 2 at a time, the first two first", peak, order)
	}
	fns[3] = func(context.Context, io.Writer) error { return errors.New("build failed") }
	if err := runParallel(t.Context(), 2, fns, io.Discard); err == nil || !strings.Contains(err.Error(), "build failed") {
		t.Errorf("a failing build: %v", err)
	}
}
