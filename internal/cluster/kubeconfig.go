package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/awsx"
	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/node"
)

// Kubeconfig mirrors the fields of a kubeconfig (clientcmd v1 Config) that
// kubeadm's admin.conf uses; client-go is deliberately not a dependency.
type Kubeconfig struct {
	APIVersion     string            `json:"apiVersion"`
	Kind           string            `json:"kind"`
	Clusters       []KubeconfigClust `json:"clusters"`
	Users          []KubeconfigUser  `json:"users"`
	Contexts       []KubeconfigCtx   `json:"contexts"`
	CurrentContext string            `json:"current-context"`
	Preferences    map[string]any    `json:"preferences,omitempty"`
}

// KubeconfigClust is a named cluster entry.
type KubeconfigClust struct {
	Name    string `json:"name"`
	Cluster struct {
		Server                   string `json:"server"`
		CertificateAuthorityData string `json:"certificate-authority-data,omitempty"`
		TLSServerName            string `json:"tls-server-name,omitempty"`
	} `json:"cluster"`
}

// KubeconfigUser is a named user entry (client certificate auth).
type KubeconfigUser struct {
	Name string `json:"name"`
	User struct {
		ClientCertificateData string `json:"client-certificate-data,omitempty"`
		ClientKeyData         string `json:"client-key-data,omitempty"`
	} `json:"user"`
}

// KubeconfigCtx is a named context entry.
type KubeconfigCtx struct {
	Name    string `json:"name"`
	Context struct {
		Cluster string `json:"cluster"`
		User    string `json:"user"`
	} `json:"context"`
}

// current returns the cluster and user of the current context.
func (k *Kubeconfig) current() (*KubeconfigClust, *KubeconfigUser, error) {
	for _, c := range k.Contexts {
		if c.Name != k.CurrentContext {
			continue
		}
		var cl *KubeconfigClust
		var us *KubeconfigUser
		for i := range k.Clusters {
			if k.Clusters[i].Name == c.Context.Cluster {
				cl = &k.Clusters[i]
			}
		}
		for i := range k.Users {
			if k.Users[i].Name == c.Context.User {
				us = &k.Users[i]
			}
		}
		if cl == nil || us == nil {
			return nil, nil, fmt.Errorf("kubeconfig context %q names a missing cluster or user", c.Name)
		}
		return cl, us, nil
	}
	return nil, nil, fmt.Errorf("kubeconfig has no current context %q", k.CurrentContext)
}

// HTTPClient is a client that authenticates with the current user's
// certificate and trusts only the cluster CA.
func (k *Kubeconfig) HTTPClient() (*http.Client, string, error) {
	cl, us, err := k.current()
	if err != nil {
		return nil, "", err
	}
	decode := func(field, s string) ([]byte, error) {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil || len(b) == 0 {
			return nil, fmt.Errorf("kubeconfig %s is missing or not base64", field)
		}
		return b, nil
	}
	caPEM, err := decode("certificate-authority-data", cl.Cluster.CertificateAuthorityData)
	if err != nil {
		return nil, "", err
	}
	certPEM, err := decode("client-certificate-data", us.User.ClientCertificateData)
	if err != nil {
		return nil, "", err
	}
	keyPEM, err := decode("client-key-data", us.User.ClientKeyData)
	if err != nil {
		return nil, "", err
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, "", fmt.Errorf("kubeconfig client certificate: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, "", errors.New("kubeconfig certificate-authority-data holds no PEM certificate")
	}
	tr := &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pool, Certificates: []tls.Certificate{pair}, ServerName: cl.Cluster.TLSServerName, MinVersion: tls.VersionTLS12,
	}}
	return &http.Client{Transport: tr, Timeout: 20 * time.Second}, cl.Cluster.Server, nil
}

// KubeconfigServer chooses the server a fetched kubeconfig points at. The
// zero value is the public address when the control plane published one.
type KubeconfigServer struct {
	// Private keeps https://api.<domain>:6443 (from inside the VPC or over
	// a VPN).
	Private bool
	// Tunnel points at https://127.0.0.1:<TunnelPort>, the local end of an
	// SSM port forward to the control plane's 6443 (a private control
	// plane, as in prod).
	Tunnel     bool
	TunnelPort int
}

// FetchKubeconfig reads the admin kubeconfig the control plane backs up to
// controller/admin.conf, with the caller's own AWS credentials, and points
// it at the server s chooses. Away from api.<domain>, TLS is still verified
// against that name (tls-server-name), which the certificate holds.
func (e *Env) FetchKubeconfig(ctx context.Context, s KubeconfigServer) (*Kubeconfig, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	out, err := e.AppliedOutputs(ctx)
	if err != nil {
		return nil, err
	}
	kc, err := e.fetchKubeconfig(ctx, out, !s.Private && !s.Tunnel)
	if err != nil || !s.Tunnel {
		return kc, err
	}
	if err := pointAtTunnel(kc, out.APIDNSName, s.TunnelPort); err != nil {
		return nil, err
	}
	return kc, nil
}

// Validate refuses a choice of two servers or a port no TCP listener can
// have (exit code 2), before anything is fetched.
func (s KubeconfigServer) Validate() error {
	if s.Tunnel && s.Private {
		return &ExitError{Code: ExitUsage, Err: errors.New("--tunnel-port and --private both choose the server: give one")}
	}
	if s.Tunnel && (s.TunnelPort < 1 || s.TunnelPort > 65535) {
		return tunnelPortError(s.TunnelPort)
	}
	return nil
}

func tunnelPortError(port int) error {
	return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--tunnel-port %d: want a local TCP port between 1 and 65535, for example 6443", port)}
}

// pointAtTunnel points the current cluster at a local port forwarded to the
// control plane's 6443 (SSM port forwarding), keeping TLS verification
// against api.<domain>, which the API server certificate holds.
func pointAtTunnel(kc *Kubeconfig, apiDNSName string, port int) error {
	if port < 1 || port > 65535 {
		return tunnelPortError(port)
	}
	cl, _, err := kc.current()
	if err != nil {
		return err
	}
	cl.Cluster.TLSServerName = apiDNSName
	cl.Cluster.Server = fmt.Sprintf("https://127.0.0.1:%d", port)
	return nil
}

func (e *Env) fetchKubeconfig(ctx context.Context, out *Outputs, usePublic bool) (*Kubeconfig, error) {
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, err
	}
	b := node.S3Bucket{Client: awsx.S3Client(cfg, e.Endpoint), Name: out.CertsBucket}
	raw, err := b.Get(ctx, certstore.AdminConfKey)
	if errors.Is(err, node.ErrNotFound) {
		msg := fmt.Sprintf("s3://%s/%s does not exist yet: the control plane writes it once kubeadm init has finished (watch `journalctl -u kforge-bootstrap` on the instance)", out.CertsBucket, certstore.AdminConfKey)
		if out.Emulated {
			msg = fmt.Sprintf("s3://%s/%s does not exist: on the emulator no instance boots and no node agent runs, so there is no Kubernetes API and no admin kubeconfig", out.CertsBucket, certstore.AdminConfKey)
		}
		return nil, &ExitError{Code: ExitFailure, Err: errors.New(msg)}
	}
	if err != nil {
		return nil, err
	}
	var kc Kubeconfig
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", certstore.AdminConfKey, err)
	}
	if !usePublic {
		return &kc, nil
	}
	addrRaw, err := b.Get(ctx, certstore.APIAddressesKey)
	if err != nil {
		if errors.Is(err, node.ErrNotFound) {
			return &kc, nil
		}
		return nil, err
	}
	var addrs struct {
		PublicIP string `json:"public_ip"`
	}
	if err := json.Unmarshal(addrRaw, &addrs); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", certstore.APIAddressesKey, err)
	}
	if addrs.PublicIP != "" {
		cl, _, err := kc.current()
		if err != nil {
			return nil, err
		}
		cl.Cluster.TLSServerName = out.APIDNSName
		cl.Cluster.Server = fmt.Sprintf("https://%s:6443", addrs.PublicIP)
	}
	return &kc, nil
}
