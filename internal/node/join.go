package node

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/kforge/kforge/internal/wait"
)

// JoinMaterial is workers/join.json: everything `kubeadm join` needs.
type JoinMaterial struct {
	APIEndpoint  string    `json:"api_endpoint"`
	Token        string    `json:"token"`
	CACertHashes []string  `json:"ca_cert_hashes"`
	Expires      time.Time `json:"expires"`
	// ControlPlaneVersion is the Kubernetes version the control plane
	// runs ("1.35.4"), republished after its upgrade: a worker whose
	// kubelet would be of a newer minor waits (version skew policy).
	// Empty in material published before it existed: no check.
	ControlPlaneVersion string `json:"control_plane_version,omitempty"`
	// CACert is the cluster CA (PEM), one of CACertHashes: a worker asks
	// for its kubelet's client certificate, with its proof of identity,
	// over it (joinidentity.go) before kubeadm join. Empty in material
	// published by an older agent, whose approver asks for no proof.
	CACert string `json:"ca_cert,omitempty"`
}

func (j JoinMaterial) validate() error {
	switch {
	case j.APIEndpoint == "":
		return fmt.Errorf("join material: api_endpoint is empty")
	case j.Token == "":
		return fmt.Errorf("join material: token is empty")
	case len(j.CACertHashes) == 0:
		return fmt.Errorf("join material: ca_cert_hashes is empty")
	case j.Expires.IsZero():
		return fmt.Errorf("join material: expires is missing")
	}
	return nil
}

// ReadJoin reads and checks the join material; ErrNotFound when absent.
func ReadJoin(ctx context.Context, b Bucket) (JoinMaterial, error) {
	data, err := b.Get(ctx, JoinKey)
	if err != nil {
		return JoinMaterial{}, err
	}
	var j JoinMaterial
	if err := json.Unmarshal(data, &j); err != nil {
		return JoinMaterial{}, fmt.Errorf("decoding %s: %w", JoinKey, err)
	}
	return j, j.validate()
}

// PublishJoin writes the join material (SSE-KMS through Bucket.Put).
func PublishJoin(ctx context.Context, b Bucket, j JoinMaterial) error {
	if err := j.validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding join material: %w", err)
	}
	return b.Put(ctx, JoinKey, data)
}

// CACertHash is kubeadm's discovery hash: sha256 of the CA certificate's
// SubjectPublicKeyInfo.
func CACertHash(caPEM []byte) (string, error) {
	block, _ := pem.Decode(caPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return "", errors.New("CA certificate: no PEM CERTIFICATE block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("parsing CA certificate: %w", err)
	}
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Backoff is the wait between attempts while workers wait for join material.
type Backoff struct {
	Initial time.Duration
	Max     time.Duration
	// Sleep waits d or until ctx ends; nil means a real timer.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (b Backoff) sleep(ctx context.Context, d time.Duration) error {
	if b.Sleep != nil {
		return b.Sleep(ctx, d)
	}
	return wait.Sleep(ctx, d)
}

// WaitForJoin polls the bucket with exponential backoff until valid,
// unexpired join material appears or ctx ends. A worker may boot long
// before the control plane has published anything, or, during an upgrade,
// with a kubelet (version kubelet) of a minor the control plane does not
// run yet: a kubelet is never newer than the API server, so it waits.
func WaitForJoin(ctx context.Context, b Bucket, bo Backoff, now func() time.Time, log func(msg string, args ...any), kubelet string) (JoinMaterial, error) {
	delay := bo.Initial
	if delay <= 0 {
		delay = 5 * time.Second
	}
	maxDelay := bo.Max
	if maxDelay < delay {
		maxDelay = delay
	}
	for attempt := 1; ; attempt++ {
		j, err := ReadJoin(ctx, b)
		switch {
		case err == nil && now().Before(j.Expires) && newerMinor(kubelet, j.ControlPlaneVersion):
			err = fmt.Errorf("the control plane runs Kubernetes %s: a kubelet %s may not join before it is upgraded (a kubelet is never newer than the API server)", j.ControlPlaneVersion, kubelet)
		case err == nil && now().Before(j.Expires):
			return j, nil
		case err == nil:
			err = fmt.Errorf("join material expired at %s; waiting for the control plane to refresh it", j.Expires.Format(time.RFC3339))
		case errors.Is(err, ErrNotFound):
			err = fmt.Errorf("no join material yet at %s", JoinKey)
		case IsAccessDenied(err):
			return JoinMaterial{}, fmt.Errorf("reading join material: %w", err)
		}
		log("waiting for join material", "attempt", attempt, "retry_in", delay.String(), "reason", err.Error())
		if serr := bo.sleep(ctx, delay); serr != nil {
			return JoinMaterial{}, fmt.Errorf("waiting for join material: %w (last: %v)", serr, err)
		}
		delay *= 2
		if delay > maxDelay {
			delay = maxDelay
		}
	}
}

// newerMinor reports whether version a ("1.36.3") is of a later minor
// than b; false when either is empty or unreadable.
func newerMinor(a, b string) bool {
	va, erra := version.NewSemver(a)
	vb, errb := version.NewSemver(b)
	if erra != nil || errb != nil {
		return false
	}
	sa, sb := va.Segments(), vb.Segments()
	return sa[0] > sb[0] || sa[0] == sb[0] && sa[1] > sb[1]
}
