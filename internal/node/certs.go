package node

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// CertRenewBefore is how long before the first of kubeadm's certificates
// expires the control plane renews them all. kubeadm issues them for one
// year and renews them only in `kubeadm upgrade apply`: a control plane
// that runs a year without an upgrade would otherwise lose its API server.
// Ninety days leaves ninety daily runs to get it done.
const CertRenewBefore = 90 * 24 * time.Hour

// certsRenewedMarker holds the stamp of a renewal whose restart of the
// control plane has not finished; a later run resumes at the restart.
const certsRenewedMarker = stateDir + "/certificates-renewed"

// CertsRenewedAnnotation on the control plane's static pods names the
// renewal they were restarted for: changing it makes the kubelet recreate
// the pod, which then reads the renewed files.
const CertsRenewedAnnotation = "kforge.io/certificates-renewed"

// staticPods are the control plane's static pods that read kubeadm's
// certificates and kubeconfigs: kubeadm asks for all four to be restarted
// after `kubeadm certs renew`.
var staticPods = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// CertExpirationArgs is the kubeadm command that reports the certificates'
// expiry. Without --config, kubeadm reads its configuration from the
// cluster and falls back to the defaults when the API server is not
// reachable, so a control plane whose certificates have already expired is
// still read (and renewed), and a configuration file written for an older
// Kubernetes minor never blocks it.
func CertExpirationArgs() []string {
	return []string{"certs", "check-expiration", "-o", "json"}
}

// RenewCertsArgs is the kubeadm command that renews every certificate and
// kubeconfig kubeadm manages (not the CAs, nor the kubelet's own client
// certificate, which the kubelet rotates itself).
func RenewCertsArgs() []string { return []string{"certs", "renew", "all"} }

// CertExpiry is one certificate of `kubeadm certs check-expiration`.
type CertExpiry struct {
	Name              string    `json:"name"`
	ExpirationDate    time.Time `json:"expirationDate"`
	ExternallyManaged bool      `json:"externallyManaged"`
	Missing           bool      `json:"missing"`
}

// ParseCertExpiration reads the JSON of `kubeadm certs check-expiration -o
// json` (kind CertificateExpirationInfo) and returns the certificates
// kubeadm renews, soonest expiry first.
func ParseCertExpiration(out []byte) ([]CertExpiry, error) {
	var info struct {
		Kind         string       `json:"kind"`
		Certificates []CertExpiry `json:"certificates"`
	}
	// Anything kubeadm prints before the document is not JSON.
	start := bytes.IndexByte(out, '{')
	if start < 0 {
		return nil, fmt.Errorf("kubeadm certs check-expiration printed no JSON: %q", truncate(string(out), 200))
	}
	if err := json.NewDecoder(bytes.NewReader(out[start:])).Decode(&info); err != nil {
		return nil, fmt.Errorf("reading kubeadm certs check-expiration: %w", err)
	}
	if info.Kind != "CertificateExpirationInfo" {
		return nil, fmt.Errorf("kubeadm certs check-expiration printed kind %q, want CertificateExpirationInfo", info.Kind)
	}
	var certs []CertExpiry
	for _, c := range info.Certificates {
		if c.ExternallyManaged || c.Missing {
			continue
		}
		if c.ExpirationDate.IsZero() {
			return nil, fmt.Errorf("kubeadm certs check-expiration: certificate %q has no expirationDate", c.Name)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("kubeadm certs check-expiration lists no certificate kubeadm manages")
	}
	slices.SortStableFunc(certs, func(a, b CertExpiry) int { return a.ExpirationDate.Compare(b.ExpirationDate) })
	return certs, nil
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// RenewCertificates renews kubeadm's certificates when the first expires
// within CertRenewBefore, run daily by kforge-renew-certs.timer on the
// control plane. After `kubeadm certs renew all` it restarts the four
// control-plane static pods by annotating their manifests, waits until the
// API server serves through the restarted pods, and uploads the renewed
// admin kubeconfig (which kforge's commands read from the bucket). A run
// interrupted after the renewal resumes at the restart. The CAs (ten
// years) and the PKI backup, which holds only the CAs and keys, do not
// change.
func (a *Agent) RenewCertificates(ctx context.Context) error {
	return a.RenewCertificatesWithin(ctx, CertRenewBefore)
}

// RenewNow makes RenewCertificatesWithin renew whatever the expiry
// (`kforge node renew-certs --now`).
const RenewNow = time.Duration(math.MaxInt64)

// RenewCertificatesWithin is RenewCertificates with another window: the
// certificates are renewed when the first expires within it.
func (a *Agent) RenewCertificatesWithin(ctx context.Context, within time.Duration) error {
	if !Exists(a.Host, adminConf) {
		a.logger().Info("control plane not initialised yet: kubeadm init issues its certificates")
		return nil
	}
	// The marker is written before the renewal ("<stamp> renewing") and
	// after it ("<stamp>"): a run killed during or right after `kubeadm
	// certs renew all` would otherwise find fresh certificates on disk and
	// never restart the control plane onto them.
	stamp, renewing := "", false
	if b, err := a.Host.ReadFile(certsRenewedMarker); err == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			stamp, renewing = f[0], len(f) > 1 && f[1] == "renewing"
		}
	}
	if stamp == "" {
		out, err := a.run(ctx, "kubeadm", CertExpirationArgs()...)
		if err != nil {
			return fmt.Errorf("reading the control plane's certificate expiry: %w", err)
		}
		certs, err := ParseCertExpiration([]byte(out))
		if err != nil {
			return err
		}
		first := certs[0]
		if left := first.ExpirationDate.Sub(a.now()); left > within {
			a.logger().Info("control plane certificates valid", "first", first.Name,
				"expires", first.ExpirationDate.UTC().Format(time.RFC3339), "renew_after", first.ExpirationDate.Add(-within).UTC().Format(time.RFC3339))
			return nil
		}
		a.logger().Info("renewing the control plane certificates", "first", first.Name, "expires", first.ExpirationDate.UTC().Format(time.RFC3339))
		stamp, renewing = strconv.FormatInt(a.now().Unix(), 10), true
	}
	if renewing {
		if err := a.Host.WriteFile(certsRenewedMarker, []byte(stamp+" renewing\n"), 0o644); err != nil {
			return err
		}
		if _, err := a.run(ctx, "kubeadm", RenewCertsArgs()...); err != nil {
			return fmt.Errorf("renewing the control plane certificates (kubeadm certs renew all; the next run renews again): %w", err)
		}
		if err := a.Host.WriteFile(certsRenewedMarker, []byte(stamp+"\n"), 0o644); err != nil {
			return err
		}
	} else {
		a.logger().Info("resuming the restart of the control plane on its renewed certificates", "renewal", stamp)
	}
	for _, name := range staticPods {
		if err := a.annotateStaticPod(name, stamp); err != nil {
			return err
		}
	}
	if err := a.waitRenewed(ctx, stamp); err != nil {
		return fmt.Errorf("waiting for the control plane to restart on its renewed certificates (the next run resumes): %w", err)
	}
	if err := a.adminRenewed(ctx); err != nil {
		return fmt.Errorf("%w (the next run resumes)", err)
	}
	if _, err := a.run(ctx, "rm", "-f", certsRenewedMarker); err != nil {
		return err
	}
	a.logger().Info("control plane certificates renewed", "renewal", stamp)
	return nil
}

// adminRenewed passes a renewed admin kubeconfig on to its two other
// users: the bucket's copy, which kforge's commands read, and the drainer
// (kforge-drain-events.service), a long-running client that read the old
// certificate when it started. client-go does not reload certificate data
// embedded in a kubeconfig, so without a restart the drainer would fail
// with 401 once the old certificate expired, and keep running.
func (a *Agent) adminRenewed(ctx context.Context) error {
	if err := a.backupAdmin(ctx); err != nil {
		return fmt.Errorf("uploading the renewed admin kubeconfig: %w", err)
	}
	if _, err := a.run(ctx, "systemctl", "try-restart", drainEventsUnit); err != nil {
		return fmt.Errorf("restarting the drainer on the renewed admin kubeconfig: %w", err)
	}
	return nil
}

// RenewedKubectl is the kubectl arguments (the admin kubeconfig apart)
// with which the control plane waits until each static pod runs again
// with the renewal's annotation (its mirror pod carries it), Ready, and
// the API server is ready; test/conformance runs them with the real
// kubectl against a real API server.
func RenewedKubectl(node, stamp string) [][]string {
	key := strings.ReplaceAll(CertsRenewedAnnotation, ".", `\.`)
	var out [][]string
	for _, name := range staticPods {
		out = append(out, []string{"wait", "-n", "kube-system", "pod/" + name + "-" + node,
			"--for=jsonpath={.metadata.annotations." + key + "}=" + stamp, "--timeout=5m"})
	}
	return append(out,
		[]string{"wait", "--for=condition=Ready", "pod", "-n", "kube-system", "-l", "tier=control-plane",
			"--field-selector=spec.nodeName=" + node, "--timeout=5m"},
		[]string{"get", "--raw=/readyz"})
}

// restartTimeout bounds the wait for the restarted control plane; the API
// server refuses connections while it and etcd restart.
const restartTimeout = 5 * time.Minute

// restartPoll is the pause between the waits' attempts.
const restartPoll = 10 * time.Second

// waitRenewed runs RenewedKubectl in order, repeating a wait that fails
// (connection refused while the API server restarts) until restartTimeout.
func (a *Agent) waitRenewed(ctx context.Context, stamp string) error {
	deadline := a.now().Add(restartTimeout)
	waits := RenewedKubectl(a.Instance.Hostname, stamp)
	for i := 0; i < len(waits); {
		_, err := a.Host.Run(ctx, a.kubectl(waits[i]...))
		if err == nil {
			i++
			continue
		}
		if !a.now().Before(deadline) {
			return err
		}
		a.logger().Info("control plane not back on its renewed certificates yet", "error", err.Error())
		if err := a.Backoff.sleep(ctx, restartPoll); err != nil {
			return err
		}
	}
	return nil
}

// annotateStaticPod sets the renewal annotation in the manifest of a static
// pod, unless it already has it.
func (a *Agent) annotateStaticPod(name, stamp string) error {
	path := manifestDir + "/" + name + ".yaml"
	data, err := a.Host.ReadFile(path)
	if err != nil {
		return fmt.Errorf("reading kubeadm's static pod manifest: %w", err)
	}
	annotated, changed, err := AnnotateStaticPod(data, CertsRenewedAnnotation, stamp)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if !changed {
		return nil
	}
	return a.Host.WriteFile(path, annotated, 0o600)
}

// AnnotateStaticPod returns the Pod manifest with the annotation set, and
// whether that changed it. The manifest is read strictly into the
// Kubernetes Pod type, so no field kubeadm wrote can be dropped silently.
func AnnotateStaticPod(manifest []byte, key, value string) ([]byte, bool, error) {
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(manifest, &pod); err != nil {
		return nil, false, fmt.Errorf("reading the static pod manifest: %w", err)
	}
	if pod.Kind != "Pod" {
		return nil, false, fmt.Errorf("the static pod manifest holds kind %q, not Pod", pod.Kind)
	}
	if pod.Annotations[key] == value {
		return manifest, false, nil
	}
	if pod.Annotations == nil {
		pod.Annotations = map[string]string{}
	}
	pod.Annotations[key] = value
	out, err := yaml.Marshal(&pod)
	if err != nil {
		return nil, false, fmt.Errorf("writing the static pod manifest: %w", err)
	}
	return out, true, nil
}
