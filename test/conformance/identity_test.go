package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/kforge/kforge/internal/node"
)

// 17. A joining worker's proof of identity reaches the API server the way
// the agent sends it: the agent's kubeconfig of the join material (check
// 13's real bootstrap token, the cluster CA) and its identity CSR, created
// by the real kubectl with strict field validation. The bootstrap token's
// RBAC lets it create the CSR; the API server keeps the proof annotation,
// records the token's user, and neither it nor the controller manager
// approves or signs a CSR of the signer kforge.io/node-identity, so the
// proof stays a message the approver reads.
func checkIdentityProof(t *testing.T, e *env, _ artifacts) {
	ca, err := os.ReadFile("/etc/kubernetes/pki/ca.crt")
	if err != nil {
		t.Fatal(err)
	}
	hash, err := node.CACertHash(ca)
	if err != nil {
		t.Fatal(err)
	}
	jm := node.JoinMaterial{APIEndpoint: apiDNSName + ":6443", Token: reservationToken, CACertHashes: []string{hash}, CACert: string(ca), Expires: time.Now().Add(time.Hour)}
	kubeconfig, err := node.BootstrapKubeconfig(jm)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	proof := node.IdentityProof{Authorization: "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261206/eu-west-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-kforge-kubelet-key, Signature=00", Date: "20261206T120000Z", SecurityToken: strings.Repeat("t", 1200)}
	obj, err := node.IdentityRequest(key, joiningWorkerName, "i-0fedcba9876543211", proof)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.run(nil, "kubectl", "--kubeconfig", e.write("identity.conf", kubeconfig), "create", "--validate=strict", "-o", "name", "-f", e.write("identity-csr.json", obj))
	if err != nil {
		t.Fatalf("the agent's identity CSR, with the bootstrap token:\n%v", err)
	}
	name := strings.TrimPrefix(strings.TrimSpace(out), "certificatesigningrequest.certificates.k8s.io/")
	if !strings.HasPrefix(name, "kforge-identity-i-0fedcba9876543211-") {
		t.Fatalf("created %q, want a name generated from kforge-identity-<instance>-", out)
	}
	// The controller manager's approver and signers run: none may touch it.
	time.Sleep(5 * time.Second)
	raw, err := e.kubectl("get", "certificatesigningrequest", name, "-o", "json")
	if err != nil {
		t.Fatalf("reading the identity CSR:\n%v", err)
	}
	var csr certificatesv1.CertificateSigningRequest
	if err := json.Unmarshal([]byte(raw), &csr); err != nil {
		t.Fatal(err)
	}
	var kept node.IdentityProof
	if err := json.Unmarshal([]byte(csr.Annotations[node.IdentityProofAnnotation]), &kept); err != nil || kept != proof {
		t.Errorf("the proof annotation did not come back whole: %v", err)
	}
	if csr.Spec.SignerName != node.IdentitySigner || csr.Spec.Username != "system:bootstrap:kfrsv0" {
		t.Errorf("signer %q, user %q: want %s, asked with the bootstrap token", csr.Spec.SignerName, csr.Spec.Username, node.IdentitySigner)
	}
	if len(csr.Status.Conditions) > 0 || len(csr.Status.Certificate) > 0 {
		t.Errorf("an identity CSR was acted on: %+v", csr.Status)
	}
	if _, err := e.kubectl("delete", "certificatesigningrequests", "--ignore-not-found", name); err != nil {
		t.Errorf("the approver's delete of a used proof:\n%v", err)
	}
}
