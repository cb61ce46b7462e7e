package node

import (
	"crypto/rand"
	"fmt"

	"github.com/kforge/kforge/internal/kubeadm"
)

// PrepareAPIServerFiles writes the API server's audit policy, admission
// configuration and EncryptionConfiguration on h exactly as the bootstrap does before kubeadm
// init; the conformance suite starts a real kube-apiserver on them.
func PrepareAPIServerFiles(h Host) error {
	return (&Agent{Host: h}).prepareAPIServerFiles()
}

// prepareAPIServerFiles writes the audit policy, the admission
// configuration (Pod Security defaults) and, unless one was
// restored with the PKI, the EncryptionConfiguration with a fresh random
// key. The key is made here, on the control plane, and leaves it only in
// the PKI backup (SSE-KMS in the certs bucket): never in Terraform state,
// user data or logs.
func (a *Agent) prepareAPIServerFiles() error {
	policy, err := kubeadm.RenderAuditPolicy()
	if err != nil {
		return err
	}
	if err := a.Host.WriteFile(kubeadm.AuditPolicyPath, policy, 0o600); err != nil {
		return err
	}
	admission, err := kubeadm.RenderAdmissionConfig()
	if err != nil {
		return err
	}
	if err := a.Host.WriteFile(kubeadm.AdmissionConfigPath, admission, 0o600); err != nil {
		return err
	}
	if Exists(a.Host, kubeadm.EncryptionConfigPath) {
		a.logger().Info("Secrets encryption key kept (restored with the PKI)")
		return nil
	}
	key := make([]byte, kubeadm.EncryptionKeyBytes)
	if _, err := rand.Read(key); err != nil {
		return fmt.Errorf("generating the Secrets encryption key: %w", err)
	}
	// The name only tells keys apart in a later rotation.
	cfg, err := kubeadm.RenderEncryptionConfig("kforge-"+a.now().UTC().Format("20060102T150405Z"), key)
	if err != nil {
		return err
	}
	if err := a.Host.WriteFile(kubeadm.EncryptionConfigPath, cfg, 0o600); err != nil {
		return err
	}
	a.logger().Info("Secrets encryption key generated", "path", kubeadm.EncryptionConfigPath)
	return nil
}
