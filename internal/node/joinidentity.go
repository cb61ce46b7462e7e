package node

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/keyutil"
)

// A worker's kubelet does not ask for its first client certificate
// itself: with certificate rotation on, the kubelet makes a new key in
// memory for every request, so no one but the kubelet could prove it holds
// that key. The agent asks instead, with a key of its own and the proof of
// identity on the request (identity.go), and puts the issued certificate
// where the kubelet's certificate store keeps its current one; the kubelet
// started by kubeadm join finds it valid, asks for nothing, and rotates it
// from then on with its own identity, as any kubelet does.

const (
	// kubeletCertDir is the kubelet's --cert-dir (its default), and
	// kubeletClientCurrent its certificate store's current client pair
	// (client-go util/certificate: kubelet-client-current.pem, a link to
	// kubelet-client-<time>.pem holding the certificate and the key).
	kubeletCertDir       = "/var/lib/kubelet/pki"
	kubeletClientCurrent = kubeletCertDir + "/kubelet-client-current.pem"
	// joinKubeconfig is the bootstrap token's kubeconfig the agent asks
	// with; root-only, removed when done.
	joinKubeconfig = "/etc/kubernetes/kforge-join.conf"
	// IdentityProofAnnotation holds the proof (IdentityProof, JSON) on the
	// kubelet client CSR the agent makes.
	IdentityProofAnnotation = "kforge.io/identity-proof"
	// kubeletCertWait bounds the wait for the control plane to approve;
	// the bootstrap's next attempt asks again with a new key and proof.
	kubeletCertWait = 5 * time.Minute
)

// bootstrapKubeletClient gets the kubelet its first client certificate,
// asked for with the bootstrap token and the proof that this instance
// holds the key, unless an earlier attempt already stored a valid one.
func (a *Agent) bootstrapKubeletClient(ctx context.Context, jm JoinMaterial) error {
	if a.Identity == nil {
		return errors.New("no identity prover configured for the join")
	}
	if err := checkCACert(jm); err != nil {
		return err
	}
	if a.validKubeletClient(jm) {
		a.logger().Info("kubelet client certificate already issued; kept", "path", kubeletClientCurrent)
		return nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("generating the kubelet's client key: %w", err)
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("the kubelet key's public half: %w", err)
	}
	proof, err := a.Identity.ProveIdentity(ctx, KeyDigest(der))
	if err != nil {
		return fmt.Errorf("proving this instance's identity: %w", err)
	}
	obj, err := KubeletClientRequest(key, a.Instance.Hostname, a.Instance.ID, proof)
	if err != nil {
		return err
	}
	kubeconfig, err := BootstrapKubeconfig(jm)
	if err != nil {
		return err
	}
	if err := a.Host.WriteFile(joinKubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	cert, err := a.requestKubeletClient(ctx, obj)
	if rmErr := a.removeTokenFiles(ctx, joinKubeconfig); err == nil {
		err = rmErr
	}
	if err != nil {
		return err
	}
	return a.storeKubeletClient(ctx, cert, key)
}

// requestKubeletClient creates the CSR and returns the certificate the
// control plane issues for it.
func (a *Agent) requestKubeletClient(ctx context.Context, obj []byte) ([]byte, error) {
	out, err := a.Host.Run(ctx, Command{Name: "kubectl", Args: []string{"--kubeconfig", joinKubeconfig, "create", "-o", "name", "-f", "-"}, Stdin: obj})
	if err != nil {
		return nil, fmt.Errorf("asking for the kubelet's client certificate: %w", err)
	}
	_, name, _ := strings.Cut(strings.TrimSpace(out), "/")
	if name == "" {
		return nil, fmt.Errorf("kubectl create named no CSR: %q", out)
	}
	a.logger().Info("kubelet client certificate asked for with a proof of identity", "csr", name, "instance", a.Instance.ID)
	deadline := a.now().Add(kubeletCertWait)
	for {
		raw, err := a.Host.Run(ctx, Cmd("kubectl", "--kubeconfig", joinKubeconfig, "get", "certificatesigningrequest", name, "-o", "json"))
		if err != nil {
			return nil, err
		}
		var csr certificatesv1.CertificateSigningRequest
		if err := json.Unmarshal([]byte(raw), &csr); err != nil {
			return nil, fmt.Errorf("decoding CSR %s: %w", name, err)
		}
		for _, c := range csr.Status.Conditions {
			if (c.Type == certificatesv1.CertificateDenied || c.Type == certificatesv1.CertificateFailed) && c.Status != corev1.ConditionFalse {
				return nil, fmt.Errorf("CSR %s %s: %s", name, c.Type, c.Message)
			}
		}
		if len(csr.Status.Certificate) > 0 {
			return csr.Status.Certificate, nil
		}
		if !a.now().Before(deadline) {
			return nil, fmt.Errorf("CSR %s not approved within %s; the control plane's approver says why (journalctl -u kforge-approve-csrs)", name, kubeletCertWait)
		}
		if err := a.Backoff.sleep(ctx, 5*time.Second); err != nil {
			return nil, err
		}
	}
}

// storeKubeletClient writes the pair as the kubelet's certificate store
// does: a file of its time, and the current link to it.
func (a *Agent) storeKubeletClient(ctx context.Context, certPEM []byte, key *ecdsa.PrivateKey) error {
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("encoding the kubelet's client key: %w", err)
	}
	pair := append(append([]byte(nil), certPEM...), pem.EncodeToMemory(&pem.Block{Type: keyutil.ECPrivateKeyBlockType, Bytes: keyDER})...)
	if _, err := tls.X509KeyPair(pair, pair); err != nil {
		return fmt.Errorf("the issued certificate does not match the kubelet's key: %w", err)
	}
	file := kubeletCertDir + "/kubelet-client-" + a.now().UTC().Format("2006-01-02-15-04-05") + ".pem"
	if err := a.Host.WriteFile(file, pair, 0o600); err != nil {
		return err
	}
	return a.runAll(ctx, Cmd("ln", "-sfn", file, kubeletClientCurrent))
}

// validKubeletClient reports whether the certificate store holds a
// client pair for this node, issued by the cluster's CA (the join
// material's, checked against its pinned hashes), that has not expired.
// One from another CA, such as a control plane rebuilt before its PKI was
// backed up, would be kept for its whole life while the API server
// refuses it.
func (a *Agent) validKubeletClient(jm JoinMaterial) bool {
	pair, err := a.Host.ReadFile(kubeletClientCurrent)
	if err != nil {
		return false
	}
	c, err := tls.X509KeyPair(pair, pair)
	if err != nil || c.Leaf == nil || c.Leaf.Subject.CommonName != "system:node:"+a.Instance.Hostname {
		return false
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM([]byte(jm.CACert)) {
		return false
	}
	_, err = c.Leaf.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: a.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}})
	return err == nil
}

// checkCACert checks that the published CA is the one the pinned hashes
// name, as kubeadm's discovery does, before the token is sent to it.
func checkCACert(jm JoinMaterial) error {
	hash, err := CACertHash([]byte(jm.CACert))
	if err != nil {
		return fmt.Errorf("join material: ca_cert: %w", err)
	}
	if !slices.Contains(jm.CACertHashes, hash) {
		return fmt.Errorf("join material: ca_cert's hash %s is none of ca_cert_hashes", hash)
	}
	return nil
}

// KubeletClientRequest is the kubelet client CSR of key for nodeName, as
// the kubelet would ask (signer kubernetes.io/kube-apiserver-client-kubelet,
// CN=system:node:<name>, O=system:nodes), carrying proof; JSON for kubectl
// create.
func KubeletClientRequest(key crypto.Signer, nodeName, instanceID string, proof IdentityProof) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("the kubelet's certificate request: %w", err)
	}
	p, err := json.Marshal(proof)
	if err != nil {
		return nil, fmt.Errorf("encoding the proof: %w", err)
	}
	obj := certificatesv1.CertificateSigningRequest{
		TypeMeta: metav1.TypeMeta{APIVersion: "certificates.k8s.io/v1", Kind: "CertificateSigningRequest"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "kforge-join-" + instanceID + "-",
			Annotations:  map[string]string{IdentityProofAnnotation: string(p)},
		},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: kubeletClientSigner,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding the kubelet's CSR: %w", err)
	}
	return data, nil
}

// BootstrapKubeconfig is a kubeconfig of the join material: the API
// server, its CA (checkCACert checks it first), the bootstrap token.
func BootstrapKubeconfig(jm JoinMaterial) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["kforge"] = &clientcmdapi.Cluster{Server: "https://" + jm.APIEndpoint, CertificateAuthorityData: []byte(jm.CACert)}
	cfg.AuthInfos["bootstrap"] = &clientcmdapi.AuthInfo{Token: jm.Token}
	cfg.Contexts["kforge"] = &clientcmdapi.Context{Cluster: "kforge", AuthInfo: "bootstrap"}
	cfg.CurrentContext = "kforge"
	data, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("the bootstrap kubeconfig: %w", err)
	}
	return data, nil
}
