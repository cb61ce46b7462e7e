package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kforge/kforge/internal/lab"
	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/internal/testutil/textlines"
)

// certRenewal: the control plane's agent renews kubeadm's certificates
// (`kforge node renew-certs --now`, what kforge-renew-certs.timer runs
// within 90 days of their expiry) on a running cluster. The real kubelet
// must recreate the four static pods from their annotated manifests, the
// API server come back on the renewed certificates, and `kforge
// kubeconfig` hand out the renewed admin credentials from the bucket.
func certRenewal(t *testing.T) {
	scenario(t, "CertRenewal")
	c := needReady(t)
	ctx := context.Background()
	_, cp, kc := c.admin(t, ctx)
	cpName := nodeName(cp.Spec)
	before := nodeCertExpiry(t, ctx, cp)
	apiserver := "kube-apiserver-" + cpName
	uidBefore, err := c.kubectl(ctx, kc, "-n", "kube-system", "get", "pod", apiserver, "-o", "jsonpath={.metadata.uid}")
	if err != nil {
		t.Fatal(err)
	}
	adminBefore, err := cp.Exec(ctx, "cat", "/etc/kubernetes/admin.conf")
	if err != nil {
		t.Fatal(err)
	}
	conds, err := c.nodeConditions(ctx, kc)
	if err != nil {
		t.Fatal(err)
	}
	// Expiry dates have a resolution of one second.
	time.Sleep(1100 * time.Millisecond)

	// The timer's command line, with the unit's environment file; a login
	// shell, whose profile points AWS clients at the lab's emulator as
	// systemd's default environment does for the units.
	start := time.Now()
	out, err := cp.Exec(ctx, "bash", "-l", "-c", `set -a; . /etc/kforge/node.env; set +a; exec /usr/local/bin/kforge node renew-certs --now --bucket "$KFORGE_BUCKET" --config-key "$KFORGE_CONFIG_KEY" --region "$KFORGE_REGION"`)
	took := time.Since(start)
	if err != nil {
		t.Fatalf("kforge node renew-certs --now on the control plane: %v\n%s", err, textlines.Last(out, 30))
	}
	t.Logf("kforge node renew-certs --now took %s:\n%s", took.Round(time.Second), textlines.Last(out, 6))

	after := nodeCertExpiry(t, ctx, cp)
	for name, was := range before {
		if !after[name].After(was) {
			t.Errorf("%s expires %s after the renewal, %s before: not renewed", name, after[name], was)
		}
	}
	// The kubelet recreated the API server's pod from its annotated
	// manifest: a new mirror pod carrying the renewal.
	got, err := c.kubectl(ctx, kc, "-n", "kube-system", "get", "pod", apiserver, "-o",
		`jsonpath={.metadata.uid} {.metadata.annotations.kforge\.io/certificates-renewed}`)
	if err != nil {
		t.Fatal(err)
	}
	uid, stamp, _ := strings.Cut(got, " ")
	if uid == uidBefore || stamp == "" {
		t.Errorf("the API server's mirror pod after the renewal: uid %s (before %s), renewal %q: the kubelet did not recreate it", uid, uidBefore, stamp)
	}
	adminAfter, err := cp.Exec(ctx, "cat", "/etc/kubernetes/admin.conf")
	if err != nil {
		t.Fatal(err)
	}
	if adminAfter == adminBefore {
		t.Error("admin.conf on the control plane is unchanged by the renewal")
	}
	// What an operator gets now: kforge kubeconfig reads admin.conf from
	// the bucket, which must be the renewed one, and the API answers it.
	port, err := c.apiPort()
	if err != nil {
		t.Fatal(err)
	}
	renewed := filepath.Join(t.TempDir(), "renewed.conf")
	if out, err := c.kforge(ctx, "kubeconfig", "local", "--tunnel-port", port, "--file", renewed); err != nil {
		t.Fatalf("kforge kubeconfig local: %v\n%s", err, textlines.Last(out, 10))
	}
	conf, err := os.ReadFile(renewed)
	if err != nil {
		t.Fatal(err)
	}
	if handed, renewedCert := clientCert(t, conf), clientCert(t, []byte(adminAfter)); len(renewedCert) == 0 || !bytes.Equal(handed, renewedCert) {
		t.Error("kforge kubeconfig hands out a client certificate other than the renewed admin.conf's: the bucket's copy was not replaced")
	}
	waitFor(t, 5*time.Minute, "every node Ready before the renewal Ready again, through the renewed kubeconfig", func() (bool, string, error) {
		now, err := c.nodeConditions(ctx, renewed)
		if err != nil {
			return false, err.Error(), nil
		}
		for name, ready := range conds {
			if ready == "True" && now[name] != "True" {
				return false, fmt.Sprint(now), nil
			}
		}
		return true, "", nil
	})
	note("CertRenewal", fmt.Sprintf("%d certificates renewed, control plane back in %s", len(before), took.Round(time.Second)))
}

// nodeCertExpiry reads the certificates' expiry on the control plane with
// its own kubeadm, as the agent does.
func nodeCertExpiry(t *testing.T, ctx context.Context, cp *lab.Instance) map[string]time.Time {
	t.Helper()
	out, err := cp.Exec(ctx, "kubeadm", node.CertExpirationArgs()...)
	if err != nil {
		t.Fatalf("kubeadm %s on the control plane: %v\n%s", strings.Join(node.CertExpirationArgs(), " "), err, textlines.Last(out, 10))
	}
	certs, err := node.ParseCertExpiration([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]time.Time{}
	for _, c := range certs {
		m[c.Name] = c.ExpirationDate
	}
	return m
}

// clientCert is the client certificate of a kubeconfig's current context.
func clientCert(t *testing.T, kubeconfig []byte) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatalf("reading a kubeconfig: %v", err)
	}
	ctx, ok := cfg.Contexts[cfg.CurrentContext]
	if !ok {
		t.Fatalf("the kubeconfig has no current context %q", cfg.CurrentContext)
	}
	user, ok := cfg.AuthInfos[ctx.AuthInfo]
	if !ok {
		t.Fatalf("the kubeconfig has no user %q", ctx.AuthInfo)
	}
	return user.ClientCertificateData
}
