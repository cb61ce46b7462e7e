package node

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// expirationJSON is `kubeadm certs check-expiration -o json` with the
// apiserver certificate expiring at first and the others an hour later.
func expirationJSON(t *testing.T, first time.Time) string {
	t.Helper()
	type cert struct {
		Name              string    `json:"name"`
		ExpirationDate    time.Time `json:"expirationDate"`
		ExternallyManaged bool      `json:"externallyManaged"`
		Missing           bool      `json:"missing"`
	}
	certs := []cert{{Name: "admin.conf", ExpirationDate: first.Add(time.Hour)}, {Name: "apiserver", ExpirationDate: first}}
	for _, n := range []string{"apiserver-etcd-client", "etcd-server", "scheduler.conf"} {
		certs = append(certs, cert{Name: n, ExpirationDate: first.Add(time.Hour)})
	}
	b, err := json.Marshal(map[string]any{
		"kind": "CertificateExpirationInfo", "apiVersion": "output.kubeadm.k8s.io/v1alpha3", "certificates": certs,
		"certificateAuthorities": []cert{{Name: "ca", ExpirationDate: first.AddDate(9, 0, 0)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// writeStaticPods puts kubeadm's four control-plane manifests on h, in the
// shape kubeadm writes them.
func writeStaticPods(t *testing.T, h *recorder) {
	t.Helper()
	for _, name := range staticPods {
		image := "registry.k8s.io/" + name + ":v1.36.6"
		if name == "etcd" {
			image = "registry.k8s.io/etcd:3.6.5-0"
		}
		manifest := "apiVersion: v1\nkind: Pod\nmetadata:\n  labels:\n    component: " + name + "\n    tier: control-plane\n  name: " + name +
			"\n  namespace: kube-system\nspec:\n  containers:\n  - command:\n    - " + name + "\n    image: " + image + "\n    name: " + name +
			"\n  hostNetwork: true\nstatus: {}\n"
		if err := h.WriteFile(manifestDir+"/"+name+".yaml", []byte(manifest), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

const controllerNode = "ip-10-0-1-10.eu-west-1.compute.internal"

// renewingController is a bootstrapped control plane with kubeadm's static
// pods, 300 days after its bootstrap (the time it returns).
func renewingController(t *testing.T) (*cloud, *recorder, *Agent, time.Time) {
	t.Helper()
	c, h, a := controllerAt(t, "", "1.36.6")
	writeStaticPods(t, h)
	now := t0.Add(300 * 24 * time.Hour)
	// The agent's pauses move its clock instead of waiting.
	clock := now
	a.Now = func() time.Time { return clock }
	a.Backoff = Backoff{Sleep: func(_ context.Context, d time.Duration) error { clock = clock.Add(d); return nil }}
	return c, h, a, now
}

// The control plane renews kubeadm's certificates only within
// CertRenewBefore of the first expiry; then it restarts the four static
// pods on them, waits for the API server, and uploads the new admin.conf.
func TestRenewCertificatesWithinNinetyDaysOfExpiry(t *testing.T) {
	c, h, a, now := renewingController(t)
	ctx := context.Background()

	h.certExpiration = expirationJSON(t, now.Add(CertRenewBefore+time.Hour))
	mark := len(h.commands())
	if err := a.RenewCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.commands()[mark:]; len(got) != 1 || got[0] != "kubeadm certs check-expiration -o json" {
		t.Errorf("first expiry beyond %s: ran %v, want only the expiry check", CertRenewBefore, got)
	}
	for _, name := range staticPods {
		if strings.Contains(h.file(manifestDir+"/"+name+".yaml"), CertsRenewedAnnotation) {
			t.Errorf("%s restarted although no certificate was renewed", name)
		}
	}

	// The apiserver certificate now expires within the window; the
	// others, an hour later, are renewed with it.
	h.certExpiration = expirationJSON(t, now.Add(CertRenewBefore-time.Hour))
	h.WriteFile(adminConf, []byte("admin.conf with the renewed client certificate"), 0o600)
	mark = len(h.commands())
	if err := a.RenewCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	stamp := strconv.FormatInt(now.Unix(), 10)
	h.assertOrder(t,
		"kubeadm certs check-expiration -o json",
		"kubeadm certs renew all",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf wait -n kube-system pod/etcd-"+controllerNode+` --for=jsonpath={.metadata.annotations.kforge\.io/certificates-renewed}=`+stamp+" --timeout=5m",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf wait -n kube-system pod/kube-apiserver-"+controllerNode,
		"kubectl --kubeconfig /etc/kubernetes/admin.conf wait -n kube-system pod/kube-controller-manager-"+controllerNode,
		"kubectl --kubeconfig /etc/kubernetes/admin.conf wait -n kube-system pod/kube-scheduler-"+controllerNode,
		"kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready pod -n kube-system -l tier=control-plane --field-selector=spec.nodeName="+controllerNode+" --timeout=5m",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw=/readyz",
		// The drainer read the old certificate at its start.
		"systemctl try-restart kforge-drain-events.service",
	)
	for _, name := range staticPods {
		manifest := h.file(manifestDir + "/" + name + ".yaml")
		if !strings.Contains(manifest, CertsRenewedAnnotation+`: "`+stamp+`"`) {
			t.Errorf("%s manifest after the renewal lacks the annotation %s=%s:\n%s", name, CertsRenewedAnnotation, stamp, manifest)
		}
	}
	if v, err := a.runningControlPlaneVersion(); err != nil || v != "1.36.6" {
		t.Errorf("the annotated API server manifest names version %q (%v), want 1.36.6", v, err)
	}
	if got, err := c.bucket.Get(ctx, AdminConfKey); err != nil || string(got) != "admin.conf with the renewed client certificate" {
		t.Errorf("admin.conf in the bucket after the renewal: %q (%v), want the renewed one", got, err)
	}
	if Exists(h, certsRenewedMarker) {
		t.Errorf("%s left after a finished renewal", certsRenewedMarker)
	}
	if n := strings.Count(strings.Join(h.commands()[mark:], "\n"), "kubeadm certs renew"); n != 1 {
		t.Errorf("kubeadm certs renew ran %d times, want 1", n)
	}
}

// A renewal whose restart has not finished (the API server still coming
// back) fails the run and the next one resumes at the restart, without a
// second renewal or a second rewrite of the manifests.
func TestRenewCertificatesResumesAtTheRestart(t *testing.T) {
	_, h, a, now := renewingController(t)
	ctx := context.Background()
	h.certExpiration = expirationJSON(t, now.Add(24*time.Hour))
	h.fail = map[string]error{"kubectl --kubeconfig /etc/kubernetes/admin.conf wait -n kube-system pod/kube-apiserver-": errors.New("exit status 1: connection refused")}
	err := a.RenewCertificates(ctx)
	if err == nil || !strings.Contains(err.Error(), "the next run resumes") {
		t.Fatalf("restart not finished: err = %v, want one saying the next run resumes", err)
	}
	if !Exists(h, certsRenewedMarker) {
		t.Fatalf("no %s after an unfinished restart", certsRenewedMarker)
	}

	if n := strings.Count(strings.Join(h.commands(), "\n"), "wait -n kube-system pod/kube-apiserver-"); n < 2 {
		t.Errorf("the API server's wait ran %d times before the run gave up, want it repeated until %s", n, restartTimeout)
	}

	h.fail = nil
	mark := len(h.log)
	if err := a.RenewCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	resumed := strings.Join(h.log[mark:], "\n")
	for _, unwanted := range []string{"kubeadm certs", "write " + manifestDir} {
		if strings.Contains(resumed, unwanted) {
			t.Errorf("the resumed run did %q again:\n%s", unwanted, resumed)
		}
	}
	if !strings.Contains(resumed, "pod/kube-apiserver-"+controllerNode+` --for=jsonpath={.metadata.annotations.kforge\.io/certificates-renewed}=`+strconv.FormatInt(now.Unix(), 10)) {
		t.Errorf("the resumed run did not wait for the first run's renewal:\n%s", resumed)
	}
	if Exists(h, certsRenewedMarker) {
		t.Errorf("%s left after the resumed run finished", certsRenewedMarker)
	}
}

// Before kubeadm init there is nothing to renew, and nothing is run.
func TestRenewCertificatesBeforeInit(t *testing.T) {
	c := newCloud(t)
	h := newRecorder(t, "controller")
	a := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	if err := a.RenewCertificates(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := h.commands(); len(got) != 0 {
		t.Errorf("before kubeadm init: ran %v, want nothing", got)
	}
}

// The output of the real kubeadm (v1.36.3, testdata/check-expiration.json)
// is read: its eleven certificates, soonest first, without the CAs.
func TestParseCertExpirationOfRealKubeadm(t *testing.T) {
	out, err := os.ReadFile("testdata/check-expiration.json")
	if err != nil {
		t.Fatal(err)
	}
	certs, err := ParseCertExpiration(out)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 11 {
		t.Errorf("%d certificates read, want kubeadm's 11: %+v", len(certs), certs)
	}
	for i, c := range certs {
		if c.Name == "ca" || c.Name == "etcd-ca" || c.Name == "front-proxy-ca" {
			t.Errorf("the CA %s is listed among the certificates to renew", c.Name)
		}
		if i > 0 && c.ExpirationDate.Before(certs[i-1].ExpirationDate) {
			t.Errorf("not soonest first: %s before %s", certs[i-1].Name, c.Name)
		}
	}

	for name, bad := range map[string]string{
		"no JSON":        "[check-expiration] Error reading configuration from the Cluster\n",
		"another kind":   `{"kind":"Pod"}`,
		"no certificate": `{"kind":"CertificateExpirationInfo","certificates":[{"name":"apiserver","externallyManaged":true}]}`,
		"no expiry":      `{"kind":"CertificateExpirationInfo","certificates":[{"name":"apiserver"}]}`,
	} {
		if _, err := ParseCertExpiration([]byte(bad)); err == nil {
			t.Errorf("%s: parsed without an error", name)
		}
	}
}

// A manifest field the Pod type does not know is refused rather than
// dropped; annotating twice with the same value changes nothing.
func TestAnnotateStaticPod(t *testing.T) {
	pod := []byte("apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\nspec:\n  containers:\n  - name: etcd\n    image: registry.k8s.io/etcd:3.6.5-0\n")
	once, changed, err := AnnotateStaticPod(pod, CertsRenewedAnnotation, "1")
	if err != nil || !changed {
		t.Fatalf("first annotation: changed %v, %v", changed, err)
	}
	if twice, changed, err := AnnotateStaticPod(once, CertsRenewedAnnotation, "1"); err != nil || changed || string(twice) != string(once) {
		t.Errorf("same annotation again: changed %v, %v", changed, err)
	}
	if _, _, err := AnnotateStaticPod(append(pod, "  unknownField: 1\n"...), CertsRenewedAnnotation, "1"); err == nil {
		t.Error("a field the Pod type lacks was accepted")
	}
	if _, _, err := AnnotateStaticPod([]byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: x\n"), CertsRenewedAnnotation, "1"); err == nil {
		t.Error("a manifest of another kind was accepted")
	}
}

// `kforge node renew-certs --now` renews certificates that are far from
// their expiry.
func TestRenewCertificatesNow(t *testing.T) {
	_, h, a, now := renewingController(t)
	h.certExpiration = expirationJSON(t, now.AddDate(1, 0, 0))
	if err := a.RenewCertificatesWithin(context.Background(), RenewNow); err != nil {
		t.Fatal(err)
	}
	if !h.ran("kubeadm certs renew all") {
		t.Errorf("--now with a year left: no renewal; commands:\n%s", strings.Join(h.commands(), "\n"))
	}
}

// The API server refuses connections while it restarts: a wait that fails
// then is repeated, and the run finishes once the control plane is back.
func TestRenewCertificatesWaitsOutTheRestart(t *testing.T) {
	_, h, a, now := renewingController(t)
	h.certExpiration = expirationJSON(t, now.Add(24*time.Hour))
	h.fail = map[string]error{"kubectl --kubeconfig /etc/kubernetes/admin.conf wait -n kube-system pod/etcd-": errors.New("exit status 1: connection refused")}
	a.Backoff.Sleep = func(context.Context, time.Duration) error {
		h.fail = nil // back after one pause
		return nil
	}
	if err := a.RenewCertificates(context.Background()); err != nil {
		t.Fatalf("the control plane came back after one pause: %v", err)
	}
	if Exists(h, certsRenewedMarker) {
		t.Errorf("%s left after the run finished", certsRenewedMarker)
	}
}

// A run stopped during or right after `kubeadm certs renew all`, before
// the restart, is resumed by the next run: it renews again and restarts
// the control plane, though the certificates on disk may read fresh (the
// renewal finished before the run was killed).
func TestRenewCertificatesResumesAnInterruptedRenewal(t *testing.T) {
	_, h, a, now := renewingController(t)
	ctx := context.Background()
	h.certExpiration = expirationJSON(t, now.Add(24*time.Hour))
	h.fail = map[string]error{"kubeadm certs renew": errors.New("signal: killed")}
	if err := a.RenewCertificates(ctx); err == nil {
		t.Fatal("a killed renewal succeeded")
	}
	// kubeadm had written the new certificates when it was killed.
	h.fail = nil
	h.certExpiration = expirationJSON(t, now.Add(365*24*time.Hour))
	mark := len(h.log)
	if err := a.RenewCertificates(ctx); err != nil {
		t.Fatal(err)
	}
	resumed := strings.Join(h.log[mark:], "\n")
	if !strings.Contains(resumed, "kubeadm certs renew all") {
		t.Errorf("the next run did not renew again:\n%s", resumed)
	}
	for _, name := range staticPods {
		if !strings.Contains(h.file(manifestDir+"/"+name+".yaml"), CertsRenewedAnnotation) {
			t.Errorf("%s not restarted onto the renewed certificates", name)
		}
	}
	if Exists(h, certsRenewedMarker) {
		t.Errorf("%s left after the resumed renewal finished", certsRenewedMarker)
	}
}
