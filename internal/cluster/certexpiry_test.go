package cluster

import (
	"context"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A certificate kubeadm issues for a year and the control plane renews
// from 90 days before its expiry is a problem once 60 days are left: a
// month of daily renewals has failed. The CA, which nothing renews, is
// one from a year before.
func TestCertificateProblems(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	for _, tc := range []struct {
		cert Certificate
		want string
	}{
		{Certificate{Name: "admin client certificate", NotAfter: now.Add(200 * day)}, ""},
		{Certificate{Name: "admin client certificate", NotAfter: now.Add(61 * day)}, ""},
		{Certificate{Name: "API server serving certificate", NotAfter: now.Add(59 * day)}, "the API server serving certificate expires on 2027-02-04 (in 59 days): the control plane renews it from 90 days before, so its renewal has been failing; see `journalctl -u kforge-renew-certs`"},
		{Certificate{Name: "admin client certificate", NotAfter: now.Add(-day)}, "(in -1 days)"},
		{Certificate{Name: "cluster CA", NotAfter: now.Add(9 * 365 * day), CA: true}, ""},
		{Certificate{Name: "cluster CA", NotAfter: now.Add(300 * day), CA: true}, "the cluster CA expires on 2027-10-03 (in 300 days), and kubeadm does not renew it"},
	} {
		got := tc.cert.Problem(now)
		switch {
		case tc.want == "" && got != "":
			t.Errorf("%s until %s: %s", tc.cert.Name, tc.cert.NotAfter, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("%s until %s: %q, want %q", tc.cert.Name, tc.cert.NotAfter, got, tc.want)
		}
	}
}

// The certificates come from the kubeconfig (its CA and client
// certificate) and from the API server's TLS handshake.
func TestAPICertificatesFromTheKubeconfigAndTheServer(t *testing.T) {
	clientCA, clientCAKey, _, _ := pemCert(t, "kubernetes", true, nil, nil)
	client, _, certPEM, keyPEM := pemCert(t, "kubernetes-admin", false, clientCA, clientCAKey)
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	kc := adminKubeconfig(srv.URL, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), certPEM, keyPEM)
	httpClient, server, err := kc.HTTPClient()
	if err != nil {
		t.Fatal(err)
	}
	certs, err := apiCertificates(context.Background(), &kc, httpClient, server)
	if err != nil {
		t.Fatal(err)
	}
	want := []Certificate{
		{Name: "cluster CA", NotAfter: srv.Certificate().NotAfter, CA: true},
		{Name: "admin client certificate", NotAfter: client.NotAfter},
		{Name: "API server serving certificate", NotAfter: srv.Certificate().NotAfter},
	}
	if len(certs) != len(want) {
		t.Fatalf("certificates %+v", certs)
	}
	for i := range want {
		if certs[i].Name != want[i].Name || !certs[i].NotAfter.Equal(want[i].NotAfter) || certs[i].CA != want[i].CA {
			t.Errorf("certificate %d: %+v, want %+v", i, certs[i], want[i])
		}
	}
}
