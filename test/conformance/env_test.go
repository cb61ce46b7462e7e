package conformance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/addons"
	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/test/k8sbin"
)

const (
	adminConf   = "/etc/kubernetes/admin.conf"
	manifestDir = "/etc/kubernetes/manifests"
	clusterName = "conformance"
	nodeName    = "ip-10-0-1-10.eu-west-1.compute.internal"
	workerName  = "ip-10-0-2-20.eu-west-1.compute.internal"
)

// artifacts are what kforge renders for one Kubernetes version, through its
// own render functions.
type artifacts struct {
	version      string // what kforge pins, e.g. 1.36.6
	init         []byte
	initRestored []byte
	// initResumed is the init configuration of an attempt that runs
	// kubeadm init again over an earlier one that stopped after its
	// preflight checks.
	initResumed []byte
	join        []byte
	kubelet     []byte
	addonCfg    addons.Config
	addons      []byte
	issuers     []byte
}

// etcdQuotaGiB is the etcd quota the configurations carry: not etcd's
// default, so that a quota which never reaches etcd shows.
const etcdQuotaGiB = 3

func render(t *testing.T, version string) artifacts {
	t.Helper()
	cp := kubeadm.ControlPlane{
		ClusterName: clusterName, KubernetesVersion: version, APIDNSName: apiDNSName,
		PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", NodeName: nodeName,
		PrivateIP: nodeIP, ProviderID: "aws:///eu-west-1a/i-0123456789abcdef0",
		Labels:       map[string]string{"node.kubernetes.io/instance-type": "t3.medium"},
		PatchesDir:   kubeadm.PatchesDir,
		EtcdQuotaGiB: etcdQuotaGiB,
	}
	a := artifacts{version: version}
	var err error
	if a.init, err = kubeadm.RenderControlPlane(cp); err != nil {
		t.Fatalf("rendering the init configuration: %v", err)
	}
	cp.RestoredEtcd = true
	if a.initRestored, err = kubeadm.RenderControlPlane(cp); err != nil {
		t.Fatalf("rendering the restored init configuration: %v", err)
	}
	cp.RestoredEtcd, cp.Resume = false, true
	if a.initResumed, err = kubeadm.RenderControlPlane(cp); err != nil {
		t.Fatalf("rendering the resumed init configuration: %v", err)
	}
	if a.join, err = kubeadm.RenderJoin(worker("abcdef.0123456789abcdef", "sha256:"+strings.Repeat("ab", 32))); err != nil {
		t.Fatalf("rendering the join configuration: %v", err)
	}
	if a.kubelet, err = kubeadm.RenderKubelet(); err != nil {
		t.Fatalf("rendering the kubelet configuration: %v", err)
	}
	a.addonCfg = addons.Config{
		ClusterName: clusterName, KubernetesVersion: version, Region: "eu-west-1",
		APIHost: apiDNSName, Domain: strings.TrimPrefix(apiDNSName, "api."), PodCIDR: "10.244.0.0/16", EFSID: "fs-0123456789abcdef0",
		ACMEEmail: "ops@example.com", HTTPNodePort: 30080, HTTPSNodePort: 30443,
	}
	if a.addons, err = addons.Render(a.addonCfg); err != nil {
		t.Fatalf("rendering the add-ons: %v", err)
	}
	if a.issuers, err = addons.RenderIssuers(a.addonCfg); err != nil {
		t.Fatalf("rendering the ClusterIssuers: %v", err)
	}
	return a
}

// worker is the worker kforge renders a join configuration for, with the
// bootstrap token and CA hash given.
func worker(token, caHash string) kubeadm.Worker {
	return kubeadm.Worker{
		NodeName: workerName, ProviderID: "aws:///eu-west-1b/i-0fedcba9876543210",
		APIEndpoint: apiDNSName + ":6443", Token: token,
		CACertHashes: []string{caHash},
		Labels:       map[string]string{"tier": "apps"},
		Taints:       []string{"dedicated=batch:NoSchedule"},
		PatchesDir:   kubeadm.PatchesDir,
	}
}

// env runs the binaries of one Kubernetes release.
type env struct {
	t    *testing.T
	bin  *k8sbin.Result
	dir  string // files the test writes
	logs string // component logs
}

func newEnv(t *testing.T, bin *k8sbin.Result) *env {
	e := &env{t: t, bin: bin, dir: t.TempDir()}
	e.logs = filepath.Join(e.dir, "logs")
	if err := os.MkdirAll(e.logs, 0o755); err != nil {
		t.Fatal(err)
	}
	// Each minor starts from empty kubeadm directories (inside the overlay).
	for _, d := range []string{"/etc/kubernetes", "/var/lib/etcd", "/var/lib/kubelet"} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// write stores data under the env's directory and returns the path.
func (e *env) write(name string, data []byte) string {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// run runs one of the built binaries and returns its combined output; the
// error carries that output verbatim.
func (e *env) run(extraEnv []string, name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, e.bin.Path(name), args...)
	cmd.Env = append(os.Environ(), extraEnv...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

func (e *env) kubectl(args ...string) (string, error) {
	return e.run(nil, "kubectl", append([]string{"--kubeconfig", adminConf}, args...)...)
}

// start runs a control-plane component from the static pod manifest kubeadm
// wrote, with exactly the command line kubeadm generated, and stops it when
// the test ends.
func (e *env) start(component string) {
	e.t.Helper()
	path := filepath.Join(manifestDir, component+".yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		e.t.Fatalf("%s: %v", path, err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(raw, &pod); err != nil {
		e.t.Fatalf("%s is not a Pod: %v", path, err)
	}
	if len(pod.Spec.Containers) != 1 || len(pod.Spec.Containers[0].Command) == 0 {
		e.t.Fatalf("%s: want one container with a command", path)
	}
	command := pod.Spec.Containers[0].Command
	logPath := filepath.Join(e.logs, component+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		e.t.Fatal(err)
	}
	cmd := exec.Command(e.bin.Path(command[0]), command[1:]...)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		e.t.Fatalf("starting %s: %v", component, err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(done) }()
	e.t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-done
		_ = logf.Close()
	})
	// A component that exits at once has refused its flags.
	select {
	case <-done:
		e.t.Fatalf("%s exited at start (%v) with kubeadm's flags %s:\n%s", component, waitErr, strings.Join(command[1:], " "), tail(logPath))
	case <-time.After(3 * time.Second):
	}
	e.t.Logf("%s started with kubeadm's %d flags", component, len(command)-1)
}

// waitFor polls check until it succeeds or the timeout passes.
func waitFor(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		err := check()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(2 * time.Second)
	}
}

func tail(path string) string {
	raw, _ := os.ReadFile(path)
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return string(raw)
}

// docs splits a multi-document YAML stream into objects.
func docs(t *testing.T, stream []byte) []map[string]any {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var out []map[string]any
	for {
		var obj map[string]any
		err := dec.Decode(&obj)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("splitting YAML: %v", err)
		}
		if len(obj) > 0 {
			out = append(out, obj)
		}
	}
}

func toYAML(t *testing.T, objs ...map[string]any) []byte {
	t.Helper()
	var buf bytes.Buffer
	for i, o := range objs {
		b, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes()
}

func kindName(o map[string]any) string {
	md, _ := o["metadata"].(map[string]any)
	return fmt.Sprintf("%v/%v", o["kind"], md["name"])
}

// clusterCA is the cluster CA kubeadm made (PEM) and its hash as kforge
// publishes it (node.CACertHash).
func clusterCA(t *testing.T) ([]byte, string) {
	t.Helper()
	ca, err := os.ReadFile("/etc/kubernetes/pki/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := node.CACertHash(ca)
	if err != nil {
		t.Fatal(err)
	}
	return ca, hash
}
