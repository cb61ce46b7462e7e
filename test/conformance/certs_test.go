package conformance

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/node"
)

// 12. The control plane's certificate renewal with the real kubeadm and
// kubectl: the agent's expiry check (node.CertExpirationArgs) prints what
// node.ParseCertExpiration reads, against the live cluster's kubeadm-config;
// node.RenewCertsArgs renews every one of those certificates; the manifests
// annotated by node.AnnotateStaticPod are Pods the API server accepts with
// strict field validation; and the agent's waits (node.RenewedKubectl) are
// met once the four pods carry the renewal's annotation and are Ready.
func checkCertRenewal(t *testing.T, e *env, _ artifacts) {
	heartbeat(t, e, nodeName)
	// The mirror pods the kubelet made of kubeadm's manifests: kubeadm
	// reads the API server's address from the API server's one.
	mirrorStaticPods(t, e, "")

	before := certExpiry(t, e)
	if len(before) != 11 {
		t.Errorf("kubeadm %s check-expiration lists %d certificates kubeadm manages, want 11: %v", e.bin.Version, len(before), before)
	}
	// Expiry dates have a resolution of one second.
	time.Sleep(1100 * time.Millisecond)
	start := time.Now()
	if _, err := e.run(nil, "kubeadm", node.RenewCertsArgs()...); err != nil {
		t.Fatalf("kubeadm certs renew, as the agent runs it:\n%v", err)
	}
	t.Logf("kubeadm %s took %s", strings.Join(node.RenewCertsArgs(), " "), time.Since(start).Round(time.Second))
	after := certExpiry(t, e)
	for name, was := range before {
		if !after[name].After(was) {
			t.Errorf("%s: expires %s after the renewal, %s before: not renewed", name, after[name], was)
		}
	}

	// The kubelet recreates each static pod from its annotated manifest.
	stamp := strconv.FormatInt(time.Now().Unix(), 10)
	mirrorStaticPods(t, e, stamp)
	for _, args := range node.RenewedKubectl(nodeName, stamp) {
		if _, err := e.kubectl(args...); err != nil {
			t.Fatalf("kubectl %s (the control plane's wait after a renewal):\n%v", strings.Join(args, " "), err)
		}
	}
	// A renewal the pods do not carry yet is not taken for done.
	wait := node.RenewedKubectl(nodeName, stamp+"0")[0]
	for i, a := range wait {
		if strings.HasPrefix(a, "--timeout=") {
			wait[i] = "--timeout=2s"
		}
	}
	if out, err := e.kubectl(wait...); err == nil {
		t.Errorf("kubectl %s passed for a renewal no pod carries:\n%s", strings.Join(wait, " "), out)
	}
}

// mirrorStaticPods creates in the API server, in place of any before, the
// mirror pods a kubelet makes of kubeadm's four control-plane manifests,
// each annotated with the renewal stamp first unless it is empty, and
// reports them Ready. Creation validates them strictly.
func mirrorStaticPods(t *testing.T, e *env, stamp string) {
	t.Helper()
	for _, name := range []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"} {
		mirrorStaticPod(t, e, name, stamp)
	}
}

// mirrorStaticPod is mirrorStaticPods for the manifest of one component.
func mirrorStaticPod(t *testing.T, e *env, name, stamp string) {
	t.Helper()
	path := filepath.Join(manifestDir, name+".yaml")
	manifest, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if stamp != "" {
		annotated, changed, err := node.AnnotateStaticPod(manifest, node.CertsRenewedAnnotation, stamp)
		if err != nil || !changed {
			t.Fatalf("annotating kubeadm's %s: changed %v, %v", path, changed, err)
		}
		manifest = annotated
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(manifest, &pod); err != nil {
		t.Fatal(err)
	}
	pod.Name = name + "-" + nodeName
	pod.Spec.NodeName = nodeName
	mirror, err := json.Marshal(&pod)
	if err != nil {
		t.Fatal(err)
	}
	deleteMirrorPod(t, e, name)
	if _, err := e.kubectl("create", "--validate=strict", "-f", e.write(name+"-mirror.json", mirror)); err != nil {
		t.Fatalf("the API server refuses kubeadm's %s (annotated: %v):\n%v", name, stamp != "", err)
	}
	reportPodReady(t, e, pod.Name)
}

// deleteMirrorPod deletes the mirror pod of one component, if any. No
// kubelet confirms a graceful deletion here.
func deleteMirrorPod(t *testing.T, e *env, name string) {
	t.Helper()
	if _, err := e.kubectl("delete", "pod", "-n", "kube-system", name+"-"+nodeName, "--ignore-not-found", "--grace-period=0", "--force"); err != nil {
		t.Fatal(err)
	}
}

// certExpiry runs the agent's expiry check with the real kubeadm (standard
// output only, as the agent reads it) and reads it as the agent does.
func certExpiry(t *testing.T, e *env) map[string]time.Time {
	t.Helper()
	start := time.Now()
	cmd := exec.Command(e.bin.Path("kubeadm"), node.CertExpirationArgs()...)
	out, err := cmd.Output()
	t.Logf("kubeadm %s took %s", strings.Join(node.CertExpirationArgs(), " "), time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("kubeadm %s, as the agent runs it: %v\n%s", strings.Join(node.CertExpirationArgs(), " "), err, out)
	}
	certs, err := node.ParseCertExpiration(out)
	if err != nil {
		t.Fatalf("reading the real kubeadm's expiry report: %v\n%s", err, out)
	}
	m := map[string]time.Time{}
	for _, c := range certs {
		m[c.Name] = c.ExpirationDate
	}
	return m
}
