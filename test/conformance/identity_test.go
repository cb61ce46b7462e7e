package conformance

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"

	"github.com/kforge/kforge/internal/node"
)

// 17. A joining worker's kubelet client certificate, asked for the way the
// agent asks: the agent's kubeconfig of the join material (check 13's
// real bootstrap token, in kforge's group, and the cluster CA) and its CSR
// with the proof of identity (node.KubeletClientRequest), created by the
// real kubectl with strict field validation through the roles kforge
// binds to the group. With them the token also reads what `kubeadm join`
// reads (the kubeadm and kubelet configuration, a Node by name) and no
// Secret. The API server keeps the proof annotation whole and records the
// token's user; nothing approves the request by itself, although kubeadm's
// automatic approval is in place (check 13's bootstrap-token phase made
// it, as every kubeadm init and upgrade apply does): it names kubeadm's
// group, not kforge's. Once approved, the controller manager issues a
// certificate the token can read back, and with it and the key the API
// server takes the caller for the node, in the group system:nodes.
func checkKubeletClientBootstrap(t *testing.T, e *env, _ artifacts) {
	if _, err := e.kubectl("get", "clusterrolebinding", "kubeadm:node-autoapprove-bootstrap"); err != nil {
		t.Fatalf("kubeadm's automatic approval, which check 13's bootstrap-token phase makes:\n%v", err)
	}
	ca, hash := clusterCA(t)
	jm := node.JoinMaterial{APIEndpoint: apiDNSName + ":6443", Token: reservationToken, CACertHashes: []string{hash}, CACert: string(ca), Expires: time.Now().Add(time.Hour)}
	kubeconfig, err := node.BootstrapKubeconfig(jm)
	if err != nil {
		t.Fatal(err)
	}
	asToken := e.write("join.conf", kubeconfig)
	for _, object := range []string{"configmap/kubeadm-config", "configmap/kubelet-config"} {
		if _, err := e.run(nil, "kubectl", "--kubeconfig", asToken, "-n", "kube-system", "get", object, "-o", "name"); err != nil {
			t.Errorf("kubeadm join reads %s with the token:\n%v", object, err)
		}
	}
	if _, err := e.run(nil, "kubectl", "--kubeconfig", asToken, "get", "node", joiningWorkerName); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("kubeadm join looks up its Node by name with the token: %v, want NotFound", err)
	}
	if out, _ := e.run(nil, "kubectl", "--kubeconfig", asToken, "auth", "can-i", "list", "secrets", "-n", "kube-system"); strings.TrimSpace(out) != "no" {
		t.Errorf("the token may list kube-system's Secrets: %q", out)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	// A proof of the real shape; STS is not part of this check.
	proof := node.IdentityProof{KeyDigest: "sha256:" + strings.Repeat("ab", 32), Date: "20261206T120000Z", SecurityToken: strings.Repeat("t", 1200),
		Authorization: "AWS4-HMAC-SHA256 Credential=ASIAEXAMPLE/20261206/eu-west-1/sts/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-date;x-amz-security-token;x-kforge-kubelet-key, Signature=00"}
	const instance = "i-0fedcba9876543211"
	obj, err := node.KubeletClientRequest(key, joiningWorkerName, instance, proof)
	if err != nil {
		t.Fatal(err)
	}
	out, err := e.run(nil, "kubectl", "--kubeconfig", asToken, "create", "--validate=strict", "-o", "name", "-f", e.write("kubelet-csr.json", obj))
	if err != nil {
		t.Fatalf("the agent's kubelet client CSR, with the bootstrap token:\n%v", err)
	}
	_, name, _ := strings.Cut(strings.TrimSpace(out), "/")
	if !strings.HasPrefix(name, "kforge-join-"+instance+"-") {
		t.Fatalf("created %q, want a name generated from kforge-join-<instance>-", out)
	}
	read := func() certificatesv1.CertificateSigningRequest {
		t.Helper()
		raw, err := e.run(nil, "kubectl", "--kubeconfig", asToken, "get", "certificatesigningrequest", name, "-o", "json")
		if err != nil {
			t.Fatalf("reading the CSR with the bootstrap token:\n%v", err)
		}
		var csr certificatesv1.CertificateSigningRequest
		if err := json.Unmarshal([]byte(raw), &csr); err != nil {
			t.Fatal(err)
		}
		return csr
	}
	// The controller manager runs its approver and signers: without the
	// control plane's approval, nothing happens to the request.
	time.Sleep(5 * time.Second)
	csr := read()
	var kept node.IdentityProof
	if err := json.Unmarshal([]byte(csr.Annotations[node.IdentityProofAnnotation]), &kept); err != nil || kept != proof {
		t.Errorf("the proof annotation did not come back whole: %v", err)
	}
	if !strings.HasPrefix(csr.Spec.Username, "system:bootstrap:") || len(csr.Status.Conditions) > 0 {
		t.Fatalf("user %q, conditions %+v: want the bootstrap token's pending request", csr.Spec.Username, csr.Status.Conditions)
	}
	if _, err := e.kubectl("certificate", "approve", name); err != nil {
		t.Fatalf("approving:\n%v", err)
	}
	var certPEM []byte
	if err := waitFor(time.Minute, func() error {
		if certPEM = read().Status.Certificate; len(certPEM) == 0 {
			return os.ErrNotExist
		}
		return nil
	}); err != nil {
		t.Fatalf("the controller manager issued no certificate: %v", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	pair := e.write("kubelet-client.pem", append(certPEM, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...))
	who, err := e.run(nil, "kubectl", "--server", "https://"+jm.APIEndpoint, "--certificate-authority", "/etc/kubernetes/pki/ca.crt",
		"--client-certificate", pair, "--client-key", pair, "auth", "whoami", "-o", "json")
	if err != nil {
		t.Fatalf("the API server with the issued certificate:\n%v", err)
	}
	if !strings.Contains(who, `"username": "system:node:`+joiningWorkerName+`"`) || !strings.Contains(who, `"system:nodes"`) {
		t.Errorf("the issued certificate is not the node's identity:\n%s", who)
	}
}
