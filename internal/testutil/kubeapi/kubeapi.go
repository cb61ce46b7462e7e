// Package kubeapi starts a real kube-apiserver and etcd for a test.
package kubeapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kforge/kforge/test/k8sbin"
)

// Start starts etcd and kube-apiserver from the conformance
// binaries cached by test/k8sbin (make conformance builds them), on
// loopback ports, and returns a client. It skips when no cached set exists.
// No controller runs: the test sets what controllers would (pod phases, a
// PodDisruptionBudget's status), and the API server's own eviction logic
// decides.
func Start(t testing.TB) kubernetes.Interface {
	t.Helper()
	return StartServer(t).Admin
}

// RequireEnv, when set, turns the skip for missing binaries into a failure.
const RequireEnv = "KFORGE_REQUIRE_APISERVER"

// Server is a running API server's two identities.
type Server struct {
	// Admin is in system:masters: RBAC never refuses it.
	Admin kubernetes.Interface
	// AdminConfig is Admin's configuration, for a test that talks HTTP to
	// the API server itself.
	AdminConfig *rest.Config
	// Operator is kubeadm's admin.conf identity, user kubernetes-admin in
	// group kubeadm:cluster-admins, with no binding: the test grants what
	// it needs through RBAC, which decides every one of its calls.
	Operator kubernetes.Interface
}

// StartServer is Start with both identities.
func StartServer(t testing.TB) Server {
	t.Helper()
	// make conformance sets it: there, a missing binary fails the test
	// instead of skipping it.
	required := os.Getenv(RequireEnv) != ""
	skip := t.Skip
	if required {
		skip = t.Fatal
	}
	if testing.Short() {
		t.Skip("skipping: starts etcd and kube-apiserver")
	}
	cache, err := k8sbin.DefaultCacheDir()
	if err != nil {
		skip(err)
	}
	var bin string
	for _, v := range []string{"1.36.3", "1.35.4"} {
		d := filepath.Join(cache, v, "bin")
		if _, err := os.Stat(filepath.Join(d, "kube-apiserver")); err == nil {
			if _, err := os.Stat(filepath.Join(d, "etcd")); err == nil {
				bin = d
				break
			}
		}
	}
	if bin == "" {
		skip(fmt.Sprintf("no kube-apiserver and etcd in %s (make conformance builds them)", cache))
	}
	// Ports are probed free, then bound by etcd and kube-apiserver, which
	// take no pre-opened socket: another process may bind one in between.
	// A process that then exits on "address already in use" is started
	// again on other ports, and a random token makes a foreign API server
	// on the same port refuse this test instead of serving it.
	var errs []error
	for range 3 {
		s, err := startOnce(t, bin)
		if err == nil {
			return s
		}
		errs = append(errs, err)
		if !errors.Is(err, errPortTaken) {
			break
		}
		t.Logf("starting again on other ports: %v", err)
	}
	t.Fatalf("starting etcd and kube-apiserver: %v", errors.Join(errs...))
	return Server{}
}

// errPortTaken marks a start that failed because a port was bound by
// someone else first.
var errPortTaken = errors.New("a port was taken before the server bound it")

// process is a server this package started; exited closes when it ends.
type process struct {
	name   string
	cmd    *exec.Cmd
	log    string
	exited chan struct{}
}

func startProcess(dir, bin, name string, args ...string) (*process, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	cmd := exec.Command(filepath.Join(bin, name), args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, log: logPath, exited: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(p.exited) }()
	return p, nil
}

func (p *process) stop() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

// logTail is the end of the process's output.
func (p *process) logTail() string {
	b, _ := os.ReadFile(p.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}

// exitError reports a process that has exited, naming errPortTaken when
// its output says a port was in use.
func (p *process) exitError() error {
	select {
	case <-p.exited:
	default:
		return nil
	}
	tail := p.logTail()
	for line := range strings.Lines(tail) {
		if strings.Contains(line, "address already in use") {
			return fmt.Errorf("%s: %w: %s", p.name, errPortTaken, strings.TrimSpace(line))
		}
	}
	return fmt.Errorf("%s exited (%v):\n%s", p.name, p.cmd.ProcessState, tail)
}

// startOnce starts etcd and kube-apiserver on probed ports and waits until
// the API server serves; on any failure both are stopped again.
func startOnce(t testing.TB, bin string) (server Server, err error) {
	dir := t.TempDir()
	ports := probePorts(t, 3)
	var procs []*process
	defer func() {
		if err != nil {
			for _, p := range procs {
				p.stop()
			}
		}
	}()
	t.Cleanup(func() {
		for _, p := range procs {
			p.stop()
			if t.Failed() {
				t.Logf("%s log (tail):\n%s", p.name, p.logTail())
			}
		}
	})
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	peerURL := "http://127.0.0.1:" + strconv.Itoa(ports[1])
	etcd, err := startProcess(dir, bin, "etcd", "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", peerURL, "--initial-advertise-peer-urls", peerURL, "--initial-cluster", "default="+peerURL)
	if err != nil {
		return Server{}, err
	}
	procs = append(procs, etcd)

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return Server{}, err
	}
	keyPath := filepath.Join(dir, "sa.key")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		return Server{}, err
	}
	token, operatorToken := rand.Text(), rand.Text()
	tokens := filepath.Join(dir, "tokens.csv")
	lines := token + ",admin,admin,system:masters\n" +
		operatorToken + `,kubernetes-admin,kubernetes-admin,"kubeadm:cluster-admins"` + "\n"
	if err := os.WriteFile(tokens, []byte(lines), 0o600); err != nil {
		return Server{}, err
	}
	apiserver, err := startProcess(dir, bin, "kube-apiserver", "--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[2]), "--cert-dir", filepath.Join(dir, "certs"),
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", keyPath,
		"--service-account-signing-key-file", keyPath, "--service-cluster-ip-range", "10.96.0.0/12",
		"--token-auth-file", tokens, "--authorization-mode", "RBAC",
		// No controller manager creates the default service accounts.
		"--disable-admission-plugins", "ServiceAccount")
	if err != nil {
		return Server{}, err
	}
	procs = append(procs, apiserver)
	cfg := &rest.Config{Host: "https://127.0.0.1:" + strconv.Itoa(ports[2]), BearerToken: token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Server{}, err
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, getErr := kube.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
		// A server that lost its port exits within a second or so, well
		// before the API server serves: checked on every round, and once
		// more after it answered.
		for _, p := range procs {
			if err := p.exitError(); err != nil {
				return Server{}, err
			}
		}
		if getErr == nil {
			break
		}
		if time.Now().After(deadline) {
			return Server{}, fmt.Errorf("kube-apiserver not serving after 90 s: %w", getErr)
		}
		time.Sleep(time.Second)
	}
	op := rest.CopyConfig(cfg)
	op.BearerToken = operatorToken
	operator, err := kubernetes.NewForConfig(op)
	if err != nil {
		return Server{}, err
	}
	return Server{Admin: kube, AdminConfig: cfg, Operator: operator}, nil
}

// probePorts finds the ports a start uses; a test replaces it to hand out a
// taken one.
var probePorts = freePorts

func freePorts(t testing.TB, n int) []int {
	t.Helper()
	var out []int
	var ls []net.Listener
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return out
}
