package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/awsx"
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

// fetchKubeconfig reads the admin kubeconfig the control plane backs up to
// controller/admin.conf, with the caller's own AWS credentials. When the
// control plane published a public address, the server is pointed there
// with tls-server-name api.<domain> (the certificate holds both).
func (app *App) fetchKubeconfig(ctx context.Context, env string, usePublic bool) (*Kubeconfig, error) {
	kc, _, err := app.fetchKubeconfigAndName(ctx, env, usePublic)
	return kc, err
}

// fetchKubeconfigAndName is fetchKubeconfig that also returns api.<domain>.
func (app *App) fetchKubeconfigAndName(ctx context.Context, env string, usePublic bool) (*Kubeconfig, string, error) {
	e, err := app.OpenEnv(ctx, env)
	if err != nil {
		return nil, "", err
	}
	out, ok, err := e.Outputs(ctx)
	if err != nil {
		return nil, "", err
	}
	if !ok {
		return nil, "", &ExitError{Code: ExitFailure, Err: fmt.Errorf("environment %q has no applied cluster: run `kforge up %s` first", env, env)}
	}
	cfg, err := e.AWSConfig(ctx)
	if err != nil {
		return nil, "", err
	}
	b := node.S3Bucket{Client: awsx.S3Client(cfg, e.Endpoint), Name: out.CertsBucket}
	raw, err := b.Get(ctx, node.AdminConfKey)
	if errors.Is(err, node.ErrNotFound) {
		msg := fmt.Sprintf("s3://%s/%s does not exist yet: the control plane writes it once kubeadm init has finished (watch `journalctl -u kforge-bootstrap` on the instance)", out.CertsBucket, node.AdminConfKey)
		if out.Emulated {
			msg = fmt.Sprintf("s3://%s/%s does not exist: on the emulator no instance boots and no node agent runs, so there is no Kubernetes API and no admin kubeconfig", out.CertsBucket, node.AdminConfKey)
		}
		return nil, "", &ExitError{Code: ExitFailure, Err: errors.New(msg)}
	}
	if err != nil {
		return nil, "", err
	}
	var kc Kubeconfig
	if err := yaml.Unmarshal(raw, &kc); err != nil {
		return nil, "", fmt.Errorf("decoding %s: %w", node.AdminConfKey, err)
	}
	if !usePublic {
		return &kc, out.APIDNSName, nil
	}
	addrRaw, err := b.Get(ctx, node.APIAddressesKey)
	if err != nil {
		if errors.Is(err, node.ErrNotFound) {
			return &kc, out.APIDNSName, nil
		}
		return nil, "", err
	}
	var addrs struct {
		PublicIP string `json:"public_ip"`
	}
	if err := json.Unmarshal(addrRaw, &addrs); err != nil {
		return nil, "", fmt.Errorf("decoding %s: %w", node.APIAddressesKey, err)
	}
	if addrs.PublicIP != "" {
		cl, _, err := kc.current()
		if err != nil {
			return nil, "", err
		}
		cl.Cluster.TLSServerName = out.APIDNSName
		cl.Cluster.Server = fmt.Sprintf("https://%s:6443", addrs.PublicIP)
	}
	return &kc, out.APIDNSName, nil
}

// pointAtTunnel points the current cluster at a local port forwarded to the
// control plane's 6443 (SSM port forwarding), keeping TLS verification
// against api.<domain>, which the API server certificate holds.
func pointAtTunnel(kc *Kubeconfig, apiDNSName string, port int) error {
	if port < 1 || port > 65535 {
		return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--tunnel-port %d: want a local TCP port between 1 and 65535, for example 6443", port)}
	}
	cl, _, err := kc.current()
	if err != nil {
		return err
	}
	cl.Cluster.TLSServerName = apiDNSName
	cl.Cluster.Server = fmt.Sprintf("https://127.0.0.1:%d", port)
	return nil
}

func newKubeconfigCmd(app *App) *cobra.Command {
	var file string
	var private bool
	var tunnelPort int
	cmd := &cobra.Command{
		Use:   "kubeconfig <env>",
		Short: "Write the cluster's admin kubeconfig (fetched from the certs bucket with your AWS credentials) with mode 0600",
		Long: "Fetches controller/admin.conf, which the control plane backs up to the certs bucket under KMS,\n" +
			"using your own AWS credentials (you need s3:GetObject on that prefix and kms:Decrypt on the key).\n" +
			"When the control plane has a public address, the server is set to it with tls-server-name\n" +
			"api.<domain>, because api.<domain> resolves to the private address nodes use; the API is reachable\n" +
			"only from admin_cidrs. The credential is the long-lived kubeadm admin certificate: keep the file private.\n" +
			"A private control plane (no public address, as in prod) is reached through an SSM port forward:\n" +
			"--tunnel-port N points the server at https://127.0.0.1:N with tls-server-name api.<domain>; start\n" +
			"the forward with `aws ssm start-session --target <controller instance> --document-name\n" +
			"AWS-StartPortForwardingSession --parameters portNumber=6443,localPortNumber=N` (docs/NODES.md).",
		Args: envArg,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("tunnel-port") && private {
				return &ExitError{Code: ExitUsage, Err: errors.New("--tunnel-port and --private both choose the server: give one")}
			}
			if cmd.Flags().Changed("tunnel-port") && (tunnelPort < 1 || tunnelPort > 65535) {
				return &ExitError{Code: ExitUsage, Err: fmt.Errorf("--tunnel-port %d: want a local TCP port between 1 and 65535, for example 6443", tunnelPort)}
			}
			tunnel := cmd.Flags().Changed("tunnel-port")
			kc, apiDNSName, err := app.fetchKubeconfigAndName(cmd.Context(), args[0], !private && !tunnel)
			if err != nil {
				return err
			}
			if tunnel {
				if err := pointAtTunnel(kc, apiDNSName, tunnelPort); err != nil {
					return err
				}
			}
			if file == "" {
				file = filepath.Join(app.WorkDir, args[0], "admin.conf")
			}
			data, err := yaml.Marshal(kc)
			if err != nil {
				return fmt.Errorf("encoding kubeconfig: %w", err)
			}
			if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
				return fmt.Errorf("creating %s: %w", filepath.Dir(file), err)
			}
			if err := os.WriteFile(file, data, 0o600); err != nil {
				return fmt.Errorf("writing %s: %w", file, err)
			}
			if err := os.Chmod(file, 0o600); err != nil {
				return fmt.Errorf("restricting %s: %w", file, err)
			}
			if app.JSON() {
				return app.PrintJSON(map[string]string{"kubeconfig": file})
			}
			app.Printf("%s\n", file)
			app.Notef("export KUBECONFIG=%s\n", file)
			return nil
		},
	}
	cmd.Flags().StringVar(&file, "file", "", "where to write the kubeconfig (default <workdir>/<env>/admin.conf)")
	cmd.Flags().BoolVar(&private, "private", false, "keep the server at https://api.<domain>:6443 (from inside the VPC or over a VPN)")
	cmd.Flags().IntVar(&tunnelPort, "tunnel-port", 0, "point the server at https://127.0.0.1:<port> (an SSM port forward to the control plane's 6443), verifying TLS against api.<domain>")
	return cmd
}
