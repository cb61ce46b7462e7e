// Package kubeapi starts a real kube-apiserver and etcd for a test.
package kubeapi

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
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

// Server is a running API server's two identities.
type Server struct {
	// Admin is in system:masters: RBAC never refuses it.
	Admin kubernetes.Interface
	// Operator is kubeadm's admin.conf identity, user kubernetes-admin in
	// group kubeadm:cluster-admins, with no binding: the test grants what
	// it needs through RBAC, which decides every one of its calls.
	Operator kubernetes.Interface
}

// StartServer is Start with both identities.
func StartServer(t testing.TB) Server {
	t.Helper()
	if testing.Short() {
		t.Skip("skipping: starts etcd and kube-apiserver")
	}
	cache, err := k8sbin.DefaultCacheDir()
	if err != nil {
		t.Skip(err)
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
		t.Skipf("skipping: no kube-apiserver and etcd in %s (make conformance builds them)", cache)
	}
	dir := t.TempDir()
	ports := freePorts(t, 3)
	start := func(name string, args ...string) {
		logf, err := os.Create(filepath.Join(dir, name+".log"))
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.Stdout, cmd.Stderr = logf, logf
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			_ = logf.Close()
			if t.Failed() {
				b, _ := os.ReadFile(logf.Name())
				if len(b) > 3000 {
					b = b[len(b)-3000:]
				}
				t.Logf("%s log (tail):\n%s", name, b)
			}
		})
	}
	etcdURL := "http://127.0.0.1:" + strconv.Itoa(ports[0])
	start("etcd", "--data-dir", filepath.Join(dir, "etcd"), "--listen-client-urls", etcdURL, "--advertise-client-urls", etcdURL,
		"--listen-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]), "--initial-advertise-peer-urls", "http://127.0.0.1:"+strconv.Itoa(ports[1]),
		"--initial-cluster", "default=http://127.0.0.1:"+strconv.Itoa(ports[1]))

	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, "sa.key")
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}), 0o600); err != nil {
		t.Fatal(err)
	}
	const token, operatorToken = "kubeapi-test-token", "kubeapi-operator-token"
	tokens := filepath.Join(dir, "tokens.csv")
	lines := token + ",admin,admin,system:masters\n" +
		operatorToken + `,kubernetes-admin,kubernetes-admin,"kubeadm:cluster-admins"` + "\n"
	if err := os.WriteFile(tokens, []byte(lines), 0o600); err != nil {
		t.Fatal(err)
	}
	start("kube-apiserver", "--etcd-servers", etcdURL, "--bind-address", "127.0.0.1", "--advertise-address", "127.0.0.1",
		"--secure-port", strconv.Itoa(ports[2]), "--cert-dir", filepath.Join(dir, "certs"),
		"--service-account-issuer", "https://kubernetes.default.svc", "--service-account-key-file", keyPath,
		"--service-account-signing-key-file", keyPath, "--service-cluster-ip-range", "10.96.0.0/12",
		"--token-auth-file", tokens, "--authorization-mode", "RBAC",
		// No controller manager creates the default service accounts.
		"--disable-admission-plugins", "ServiceAccount")
	cfg := &rest.Config{Host: "https://127.0.0.1:" + strconv.Itoa(ports[2]), BearerToken: token, TLSClientConfig: rest.TLSClientConfig{Insecure: true}}
	kube, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		_, err := kube.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kube-apiserver not serving after 90 s: %v", err)
		}
		time.Sleep(time.Second)
	}
	op := rest.CopyConfig(cfg)
	op.BearerToken = operatorToken
	operator, err := kubernetes.NewForConfig(op)
	if err != nil {
		t.Fatal(err)
	}
	return Server{Admin: kube, Operator: operator}
}

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
