package node

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"

	"github.com/kforge/kforge/internal/cni"
	"github.com/kforge/kforge/internal/testutil/containerdconf"
)

// recorder is the test Host: an in-memory file system and a log of every
// action, with small simulations of what kubeadm, curl, ctr and kubectl
// leave behind on a real machine. It proves the agent's order, idempotency
// and data flow; it does not prove that the real programs accept these
// arguments (only a run on AWS does).
type recorder struct {
	t     testing.TB
	mu    sync.Mutex
	files map[string][]byte
	perms map[string]fs.FileMode
	log   []string
	name  string
	// kubelet is the version the last `dnf install kubelet-<v>` installed,
	// which `kubelet --version` prints.
	kubelet string
	// fail makes commands starting with a key fail with its error.
	fail map[string]error
	// initStops makes the next `kubeadm init` write its files and then
	// fail with this error, as one whose wait for the control plane timed
	// out.
	initStops error
	// certExpiration is what `kubeadm certs check-expiration` prints.
	certExpiration string
	// locks are the Locker's locks by path, as flock(2) between processes.
	locks sync.Map
	// stdin is what each command that had one was given, by command line.
	stdin map[string][]byte
	// csrPending keeps the kubelet client CSR the agent creates pending.
	csrPending bool
	// issuer is the control plane whose cluster CA (its ca.crt and ca.key)
	// issues the kubelet client certificates; nil: a throwaway CA.
	issuer *recorder
	// nodes are the Nodes `kubectl get nodes` lists; `kubectl delete node`
	// removes one.
	nodes []corev1.Node
}

// twiceAtOnce runs f twice at the same time, as two processes would (a
// timer's and another unit's), and fails on either's error.
func twiceAtOnce(t *testing.T, f func() error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { errs[i] = f() })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

// underLock checks that in log the lock at path was never taken while
// held and that every line work picks came while it was held, and returns
// those lines.
func underLock(t *testing.T, log []string, path string, work func(string) bool) []string {
	t.Helper()
	var picked []string
	held := false
	for _, l := range log {
		switch {
		case l == "lock "+path:
			if held {
				t.Fatalf("%s taken while another held it: %v", path, log)
			}
			held = true
		case l == "unlock "+path:
			held = false
		case work(l):
			if !held {
				t.Errorf("outside %s: %s", path, l)
			}
			picked = append(picked, l)
		}
	}
	return picked
}

// Lock holds path's lock, logging when it is taken and released.
func (r *recorder) Lock(ctx context.Context, path string) (func(), error) {
	m, _ := r.locks.LoadOrStore(path, &sync.Mutex{})
	m.(*sync.Mutex).Lock()
	r.mu.Lock()
	r.log = append(r.log, "lock "+path)
	r.mu.Unlock()
	return func() {
		r.mu.Lock()
		r.log = append(r.log, "unlock "+path)
		r.mu.Unlock()
		m.(*sync.Mutex).Unlock()
	}, nil
}

func newRecorder(t testing.TB, name string) *recorder {
	r := &recorder{t: t, files: map[string][]byte{}, perms: map[string]fs.FileMode{}, name: name}
	r.setResources("0-1", 4<<20)
	return r
}

// setResources sets the host's online CPUs (a kernel cpu list) and its
// MemTotal in kB, where the agent reads them; a new recorder is a machine
// of 2 CPUs and 4 GiB.
func (r *recorder) setResources(cpus string, memTotalKiB int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[cpuOnlinePath] = []byte(cpus + "\n")
	r.files[memInfoPath] = []byte(fmt.Sprintf("MemTotal:       %d kB\nMemFree:         1234567 kB\nMemAvailable:    2345678 kB\n", memTotalKiB))
}

func (r *recorder) WriteFile(path string, data []byte, perm fs.FileMode) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.files[path] = append([]byte(nil), data...)
	r.perms[path] = perm
	r.log = append(r.log, "write "+path)
	return nil
}

func (r *recorder) ReadFile(path string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.files[path]
	if !ok {
		return nil, fmt.Errorf("reading %s: %w", path, fs.ErrNotExist)
	}
	return append([]byte(nil), b...), nil
}

// Open reads path as ReadFile does, and streams what it read.
func (r *recorder) Open(path string) (io.ReadSeekCloser, error) {
	b, err := r.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return readSeekNopCloser{bytes.NewReader(b)}, nil
}

type readSeekNopCloser struct{ io.ReadSeeker }

func (readSeekNopCloser) Close() error { return nil }

// Create stores what is written to path, as a real file shows it: the
// bytes written so far, from the first Write on.
func (r *recorder) Create(path string, perm fs.FileMode) (io.WriteCloser, error) {
	if err := r.WriteFile(path, nil, perm); err != nil {
		return nil, err
	}
	return &recorderFile{r: r, path: path}, nil
}

type recorderFile struct {
	r    *recorder
	path string
}

func (f *recorderFile) Write(p []byte) (int, error) {
	f.r.mu.Lock()
	defer f.r.mu.Unlock()
	f.r.files[f.path] = append(f.r.files[f.path], p...)
	return len(p), nil
}

func (f *recorderFile) Close() error { return nil }

func (r *recorder) file(path string) string {
	b, _ := r.ReadFile(path)
	return string(b)
}

func (r *recorder) commands() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, l := range r.log {
		if c, ok := strings.CutPrefix(l, "run "); ok {
			out = append(out, c)
		}
	}
	return out
}

// ran reports whether any command starts with prefix.
func (r *recorder) ran(prefix string) bool {
	return slices.ContainsFunc(r.commands(), func(c string) bool { return strings.HasPrefix(c, prefix) })
}

// assertOrder checks that commands with these prefixes ran in this order.
func (r *recorder) assertOrder(t *testing.T, prefixes ...string) {
	t.Helper()
	cmds := r.commands()
	i := 0
	for _, c := range cmds {
		if i < len(prefixes) && strings.HasPrefix(c, prefixes[i]) {
			i++
		}
	}
	if i != len(prefixes) {
		t.Fatalf("%s: %q did not run in order; commands:\n%s", r.name, prefixes[i], strings.Join(cmds, "\n"))
	}
}

// InstallOrUpgrade records the CNI install as a pseudo command, so phase
// order can be asserted; the real Helm install (internal/cni) runs against a
// real API server in the conformance suite.
func (r *recorder) InstallOrUpgrade(_ context.Context, kubeconfig string, values map[string]any) (cni.Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.log = append(r.log, fmt.Sprintf("run helm-sdk install-or-upgrade %s/%s --kubeconfig %s --set k8sServiceHost=%v", cni.Namespace, cni.ReleaseName, kubeconfig, values["k8sServiceHost"]))
	return cni.Result{Action: "install", Revision: 1}, nil
}

var tokenSeq atomic.Int64

func (r *recorder) Run(_ context.Context, c Command) (string, error) {
	line := c.String()
	r.mu.Lock()
	r.log = append(r.log, "run "+line)
	if c.Stdin != nil {
		if r.stdin == nil {
			r.stdin = map[string][]byte{}
		}
		r.stdin[line] = append([]byte(nil), c.Stdin...)
	}
	for prefix, err := range r.fail {
		if strings.HasPrefix(line, prefix) {
			r.mu.Unlock()
			return "", err
		}
	}
	r.mu.Unlock()
	arg := func(flag string) string {
		for i, a := range c.Args {
			if a == flag && i+1 < len(c.Args) {
				return c.Args[i+1]
			}
		}
		return ""
	}
	switch {
	case strings.HasPrefix(line, "dnf install"):
		for _, a := range c.Args {
			if v, ok := strings.CutPrefix(a, "kubelet-"); ok {
				r.mu.Lock()
				r.kubelet = v
				r.mu.Unlock()
			}
		}
	case line == "kubelet --version":
		r.mu.Lock()
		defer r.mu.Unlock()
		return "Kubernetes v" + r.kubelet + "\n", nil
	case line == "containerd config default":
		// The real default of the containerd the lab's nodes run.
		return containerdconf.Default(r.t, containerdconf.Versions[0]), nil
	case strings.HasPrefix(line, "kubeadm init"):
		// kubeadm keeps CA files it finds and creates the missing ones.
		if _, err := r.ReadFile(caCert); err != nil {
			for name, data := range newPKI(r.t) {
				_ = r.WriteFile(pkiDir+"/"+name, data, 0o600)
			}
		}
		// The API server's static Pod names the configured version.
		if m := regexp.MustCompile(`kubernetesVersion: v?([0-9.]+)`).FindStringSubmatch(r.file(kubeadmConfPath)); m != nil {
			_ = r.WriteFile(apiServerManifest, []byte("spec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:v"+m[1]+"\n"), 0o600)
		}
		if err := r.WriteFile(adminConf, []byte("apiVersion: v1\nkind: Config\n# admin of "+r.name+"\n"), 0o600); err != nil {
			return "", err
		}
		r.mu.Lock()
		defer r.mu.Unlock()
		err := r.initStops
		r.initStops = nil
		return "", err
	case strings.HasPrefix(line, "kubeadm certs check-expiration"):
		r.mu.Lock()
		defer r.mu.Unlock()
		return r.certExpiration, nil
	case strings.HasPrefix(line, "kubeadm upgrade apply"):
		// As kubeadm's upgrade, which renews admin.conf's client certificate.
		if err := r.WriteFile(adminConf, []byte("apiVersion: v1\nkind: Config\n# admin of "+r.name+", renewed by the upgrade to "+c.Args[2]+"\n"), 0o600); err != nil {
			return "", err
		}
		return "", r.WriteFile(apiServerManifest, []byte("spec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:"+c.Args[2]+"\n"), 0o600)
	case strings.HasPrefix(line, "ln -sfn "):
		data, err := r.ReadFile(c.Args[1])
		if err != nil {
			return "", err
		}
		r.mu.Lock()
		perm := r.perms[c.Args[1]]
		r.mu.Unlock()
		return "", r.WriteFile(c.Args[2], data, perm)
	case line == "kubectl --kubeconfig "+joinKubeconfig+" create -o name -f -":
		return "certificatesigningrequest.certificates.k8s.io/kforge-join-1\n", nil
	case line == "kubectl --kubeconfig "+joinKubeconfig+" get certificatesigningrequest kforge-join-1 -o json":
		r.mu.Lock()
		posted := r.stdin["kubectl --kubeconfig "+joinKubeconfig+" create -o name -f -"]
		r.mu.Unlock()
		return r.issueKubeletClient(posted)
	case line == "kubectl --kubeconfig "+adminConf+" get nodes -o json":
		r.mu.Lock()
		defer r.mu.Unlock()
		out, err := json.Marshal(corev1.NodeList{Items: r.nodes})
		return string(out), err
	case strings.HasPrefix(line, "kubectl --kubeconfig "+adminConf+" delete node "):
		r.mu.Lock()
		defer r.mu.Unlock()
		r.nodes = slices.DeleteFunc(r.nodes, func(n corev1.Node) bool { return n.Name == c.Args[4] })
		return "", nil
	case strings.HasPrefix(line, "kubeadm join"):
		return "", r.WriteFile(kubeletConf, []byte("kubelet"), 0o600)
	case strings.HasPrefix(line, "kubeadm token create"):
		// Tokens are unique across recorders, as across control planes.
		n := int(tokenSeq.Add(1))
		return fmt.Sprintf("%s%d.%016d\n", strings.Repeat("a", 5), n%10, n), nil
	case strings.HasPrefix(line, "kubeadm config images list"):
		// Each release's kubeadm names its own pause (1.35's 3.10.1,
		// 1.36's 3.10.2).
		pause := "3.10.2"
		if strings.HasPrefix(arg("--kubernetes-version"), "v1.35.") {
			pause = "3.10.1"
		}
		return "registry.k8s.io/kube-apiserver:v1.36.6\nregistry.k8s.io/pause:" + pause + "\nregistry.k8s.io/etcd:3.6.5-0\n", nil
	case strings.HasPrefix(line, "curl") && arg("-o") != "":
		body := "bundle from " + c.Args[len(c.Args)-1]
		return "", r.WriteFile(arg("-o"), []byte(body), 0o644)
	case strings.Contains(line, "etcdctl") && strings.Contains(line, "snapshot save"):
		return "", r.WriteFile(c.Args[len(c.Args)-1], []byte("etcd snapshot of "+r.name), 0o600)
	case strings.Contains(line, "etcdutl snapshot restore"):
		r.mu.Lock()
		defer r.mu.Unlock()
		// etcdutl refuses a data directory that is not empty.
		for p := range r.files {
			if strings.HasPrefix(p, "/var/lib/etcd/") {
				return "", fmt.Errorf("running ctr: exit status 1: Error: data-dir %q not empty or could not be read", "/var/lib/etcd")
			}
		}
		// The new data directory holds what the snapshot file held.
		snap, ok := r.files[arg("restore")]
		if !ok || len(snap) == 0 {
			return "", fmt.Errorf("running ctr: exit status 1: Error: open %s: no such file or directory", arg("restore"))
		}
		r.files[etcdDB] = append([]byte(nil), snap...)
		r.log = append(r.log, "write "+etcdDB)
		return "", nil
	case strings.HasPrefix(line, "ctr -n k8s.io containers rm "):
		return "", fmt.Errorf("running ctr: exit status 1: ctr: container %q in namespace \"k8s.io\": not found", c.Args[len(c.Args)-1])
	case strings.HasPrefix(line, "rm -rf "):
		r.mu.Lock()
		for p := range r.files {
			if p == c.Args[1] || strings.HasPrefix(p, c.Args[1]+"/") {
				delete(r.files, p)
			}
		}
		r.mu.Unlock()
	case strings.HasPrefix(line, "find ") && len(c.Args) == 6 && c.Args[1] == "-maxdepth" && c.Args[2] == "1" && c.Args[3] == "-name" && c.Args[5] == "-delete":
		r.mu.Lock()
		for p := range r.files {
			if ok, _ := path.Match(c.Args[4], path.Base(p)); ok && path.Dir(p) == c.Args[0] {
				delete(r.files, p)
			}
		}
		r.mu.Unlock()
	case strings.HasPrefix(line, "rm -f "):
		r.mu.Lock()
		for _, p := range c.Args[1:] {
			delete(r.files, p)
		}
		r.mu.Unlock()
	}
	return "", nil
}

// newPKI makes a real self-signed CA, so CA hashes are computed from a
// genuine certificate, plus placeholders for the other files kubeadm keeps.
// writePKI puts a fresh cluster PKI where kubeadm keeps it on host h, as a
// control plane that has already run kubeadm init has it.
func writePKI(t testing.TB, h *recorder) {
	t.Helper()
	for name, data := range newPKI(t) {
		if err := h.WriteFile(pkiDir+"/"+name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func newPKI(t testing.TB) map[string][]byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "kubernetes"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, _ := x509.MarshalECPrivateKey(key)
	out := map[string][]byte{
		"ca.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		"ca.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}),
	}
	for _, name := range pkiFiles {
		if _, ok := out[name]; !ok {
			out[name] = []byte("secret " + name + fmt.Sprint(time.Now().UnixNano()))
		}
	}
	return out
}

// clusterCA is the issuer's CA certificate and key, or a throwaway CA's.
func (r *recorder) clusterCA() (*x509.Certificate, crypto.Signer, error) {
	if r.issuer == nil {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		return &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "kubernetes"}}, key, err
	}
	r.issuer.mu.Lock()
	certPEM, keyPEM := r.issuer.files[pkiDir+"/ca.crt"], r.issuer.files[pkiDir+"/ca.key"]
	r.issuer.mu.Unlock()
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("recorder: the issuer's CA: %w", err)
	}
	return pair.Leaf, pair.PrivateKey.(crypto.Signer), nil
}

// issueKubeletClient answers a read of the kubelet client CSR the agent
// created (its JSON, as posted) as the control plane would once it
// approved it: with a certificate of the request's key for its subject,
// from a throwaway CA; or pending while csrPending is set.
func (r *recorder) issueKubeletClient(posted []byte) (string, error) {
	var csr certificatesv1.CertificateSigningRequest
	if err := json.Unmarshal(posted, &csr); err != nil {
		return "", fmt.Errorf("recorder: the posted CSR: %w", err)
	}
	r.mu.Lock()
	hold := r.csrPending
	r.mu.Unlock()
	if !hold {
		block, _ := pem.Decode(csr.Spec.Request)
		req, err := x509.ParseCertificateRequest(block.Bytes)
		if err != nil {
			return "", err
		}
		caCert, caKey, err := r.clusterCA()
		if err != nil {
			return "", err
		}
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{
			SerialNumber: big.NewInt(2), Subject: req.Subject,
			NotBefore: time.Now().Add(-time.Minute), NotAfter: time.Now().Add(365 * 24 * time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
		}, caCert, req.PublicKey, caKey)
		if err != nil {
			return "", err
		}
		csr.Status.Certificate = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	}
	out, err := json.Marshal(csr)
	return string(out), err
}
