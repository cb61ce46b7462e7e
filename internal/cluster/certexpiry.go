package cluster

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// kubeadm issues the API server's and the admin's certificates for a year,
// and the control plane's kforge-renew-certs.timer renews them from 90 days
// before they expire (docs/OPERATIONS.md, "Control-plane certificates").
// A renewal that keeps failing shows only in that unit's journal until the
// API server stops serving and the admin kubeconfig every kforge command
// reads stops working, so validate reads both certificates' expiry, and the
// cluster CA's, which kubeadm never renews.

// renewalMissedWithin is how close to its expiry a renewed certificate
// means the renewal has failed for a month of daily runs.
const renewalMissedWithin = 60 * 24 * time.Hour

// caExpiryWarning is how long before the CA expires validate starts to
// fail: replacing a CA takes planning (docs/OPERATIONS.md).
const caExpiryWarning = 365 * 24 * time.Hour

// Certificate is one certificate validate watches.
type Certificate struct {
	Name     string    `json:"name"`
	NotAfter time.Time `json:"not_after"`
	// CA: kubeadm does not renew it.
	CA bool `json:"ca,omitempty"`
}

// Problem is why the certificate needs an operator, or "".
func (c Certificate) Problem(now time.Time) string {
	left := c.NotAfter.Sub(now)
	date := c.NotAfter.UTC().Format(time.DateOnly)
	switch {
	case c.CA && left <= caExpiryWarning:
		return fmt.Sprintf("the %s expires on %s (in %d days), and kubeadm does not renew it: every certificate it signed stops working then; see docs/OPERATIONS.md, \"Control-plane certificates\"",
			c.Name, date, days(left))
	case !c.CA && left <= renewalMissedWithin:
		return fmt.Sprintf("the %s expires on %s (in %d days): the control plane renews it from 90 days before, so its renewal has been failing; see `journalctl -u kforge-renew-certs` on the control plane and docs/OPERATIONS.md, \"Control-plane certificates\"",
			c.Name, date, days(left))
	}
	return ""
}

// Line is the certificate as validate prints it.
func (c Certificate) Line(now time.Time) string {
	return fmt.Sprintf("certificate %s expires %s (%d days)", c.Name, c.NotAfter.UTC().Format(time.DateOnly), days(c.NotAfter.Sub(now)))
}

// days is d in whole days, rounded down.
func days(d time.Duration) int { return int(d / (24 * time.Hour)) }

// kubeconfigCertificates are the cluster CA and the admin's client
// certificate of the kubeconfig's current context.
func kubeconfigCertificates(kc *Kubeconfig) ([]Certificate, error) {
	cl, us, err := kc.current()
	if err != nil {
		return nil, err
	}
	var out []Certificate
	for _, c := range []struct {
		name, field, data string
		ca                bool
	}{
		{"cluster CA", "certificate-authority-data", cl.Cluster.CertificateAuthorityData, true},
		{"admin client certificate", "client-certificate-data", us.User.ClientCertificateData, false},
	} {
		cert, err := firstPEMCertificate(c.data)
		if err != nil {
			return nil, fmt.Errorf("kubeconfig %s: %w", c.field, err)
		}
		out = append(out, Certificate{Name: c.name, NotAfter: cert.NotAfter, CA: c.ca})
	}
	return out, nil
}

// firstPEMCertificate parses the first certificate of base64-encoded PEM.
func firstPEMCertificate(data string) (*x509.Certificate, error) {
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, fmt.Errorf("not base64: %w", err)
	}
	block, _ := pem.Decode(raw)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no PEM certificate")
	}
	return x509.ParseCertificate(block.Bytes)
}

// servingCertificate is the certificate the API server at server presents,
// as the client's connection saw it (GET /version; any answer will do).
func servingCertificate(ctx context.Context, client *http.Client, server string) (Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(server, "/")+"/version", nil)
	if err != nil {
		return Certificate{}, fmt.Errorf("reading the API server's certificate: %w", err)
	}
	resp, err := client.Do(req)
	if err != nil {
		return Certificate{}, fmt.Errorf("reading the API server's certificate at %s: %w", server, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.TLS == nil || len(resp.TLS.PeerCertificates) == 0 {
		return Certificate{}, fmt.Errorf("reading the API server's certificate at %s: none presented", server)
	}
	return Certificate{Name: "API server serving certificate", NotAfter: resp.TLS.PeerCertificates[0].NotAfter}, nil
}

// apiCertificates are the certificates validate watches: the kubeconfig's
// CA and client certificate, and the API server's serving certificate.
func apiCertificates(ctx context.Context, kc *Kubeconfig, client *http.Client, server string) ([]Certificate, error) {
	certs, err := kubeconfigCertificates(kc)
	if err != nil {
		return nil, err
	}
	serving, err := servingCertificate(ctx, client, server)
	if err != nil {
		return certs, err
	}
	return append(certs, serving), nil
}
