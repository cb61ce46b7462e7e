package node

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"slices"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/client-go/util/keyutil"
)

const (
	// kubeletBootstrapKey is where the kubelet keeps the key of its first
	// client CSR until it is issued (pkg/kubelet/certificate/bootstrap:
	// kubelet-client.key.tmp under --cert-dir), and takes one it finds
	// there. The agent writes it first, so it knows the key it proves.
	kubeletBootstrapKey = "/var/lib/kubelet/pki/kubelet-client.key.tmp"
	// identityKubeconfig is the bootstrap token's kubeconfig the agent
	// sends its proof with; root-only, removed once sent.
	identityKubeconfig = "/etc/kubernetes/kforge-identity.conf"
	// IdentitySigner is the signer of the CSRs that carry proofs. Nothing
	// signs them: they are messages, and expire unapproved.
	IdentitySigner = "kforge.io/node-identity"
	// IdentityProofAnnotation holds the proof (IdentityProof, JSON).
	IdentityProofAnnotation = "kforge.io/identity-proof"
)

// sendIdentityProof writes the kubelet's bootstrap key (or keeps the one a
// failed join left) and posts, with the bootstrap token, a CSR of that key
// for signer IdentitySigner carrying a proof that this instance holds it.
// The control plane approves the kubelet's client CSR only with one
// (approveBootstrapCSRs).
func (a *Agent) sendIdentityProof(ctx context.Context, jm JoinMaterial) error {
	if a.Identity == nil {
		return errors.New("no identity prover configured for the join")
	}
	if err := checkCACert(jm); err != nil {
		return err
	}
	key, err := a.kubeletBootstrapKey()
	if err != nil {
		return err
	}
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return fmt.Errorf("the kubelet key's public half: %w", err)
	}
	proof, err := a.Identity.ProveIdentity(ctx, KeyDigest(der))
	if err != nil {
		return fmt.Errorf("proving this instance's identity: %w", err)
	}
	obj, err := IdentityRequest(key, a.Instance.Hostname, a.Instance.ID, proof)
	if err != nil {
		return err
	}
	kubeconfig, err := BootstrapKubeconfig(jm)
	if err != nil {
		return err
	}
	if err := a.Host.WriteFile(identityKubeconfig, kubeconfig, 0o600); err != nil {
		return err
	}
	_, err = a.Host.Run(ctx, Command{Name: "kubectl", Args: []string{"--kubeconfig", identityKubeconfig, "create", "-f", "-"}, Stdin: obj})
	if rmErr := a.runAll(ctx, Cmd("rm", "-f", identityKubeconfig)); err == nil {
		err = rmErr
	}
	if err != nil {
		return fmt.Errorf("sending the proof of identity: %w", err)
	}
	a.logger().Info("proof of identity sent for the kubelet's key", "instance", a.Instance.ID)
	return nil
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

// kubeletBootstrapKey reads the kubelet's bootstrap key, or writes a new
// ECDSA P-256 key there, the kind the kubelet makes itself.
func (a *Agent) kubeletBootstrapKey() (crypto.Signer, error) {
	data, err := a.Host.ReadFile(kubeletBootstrapKey)
	if err == nil {
		k, perr := keyutil.ParsePrivateKeyPEM(data)
		if signer, ok := k.(crypto.Signer); perr == nil && ok {
			return signer, nil
		}
		a.logger().Warn("kubelet bootstrap key unreadable; writing a new one", "path", kubeletBootstrapKey)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating the kubelet's bootstrap key: %w", err)
	}
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encoding the kubelet's bootstrap key: %w", err)
	}
	if err := a.Host.WriteFile(kubeletBootstrapKey, pem.EncodeToMemory(&pem.Block{Type: keyutil.ECPrivateKeyBlockType, Bytes: der}), 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// identityCSR is a certificate request signed by key, so that the control
// plane knows the proof's sender holds it.
func identityCSR(key crypto.Signer, nodeName string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "system:node:" + nodeName, Organization: []string{"system:nodes"}},
	}, key)
	if err != nil {
		return nil, fmt.Errorf("the identity request: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// IdentityRequest is the CertificateSigningRequest of key that carries
// proof, as JSON for kubectl create.
func IdentityRequest(key crypto.Signer, nodeName, instanceID string, proof IdentityProof) ([]byte, error) {
	csr, err := identityCSR(key, nodeName)
	if err != nil {
		return nil, err
	}
	p, err := json.Marshal(proof)
	if err != nil {
		return nil, fmt.Errorf("encoding the proof: %w", err)
	}
	obj := certificatesv1.CertificateSigningRequest{
		TypeMeta: metav1.TypeMeta{APIVersion: "certificates.k8s.io/v1", Kind: "CertificateSigningRequest"},
		ObjectMeta: metav1.ObjectMeta{
			GenerateName: "kforge-identity-" + instanceID + "-",
			Annotations:  map[string]string{IdentityProofAnnotation: string(p)},
		},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    csr,
			SignerName: IdentitySigner,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
		},
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encoding the identity request: %w", err)
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
