package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/client-go/util/keyutil"
)

// A worker joins with a proof of its identity, and the control plane's
// approver checks it with STS (the emulator's): the worker's agent writes
// the kubelet's bootstrap key, posts an identity CSR of it with the
// bootstrap token over the pinned CA, then runs kubeadm join; the kubelet's
// CSR of that key is approved for the instance whose role session signed
// the proof, and for no other instance, role or key.
func TestJoiningWorkerProvesItsIdentity(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	c.bootstrapController(t, "controller", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	wh := newRecorder(t, "worker")
	w := c.worker(wh, fixedClock(t0), Backoff{Initial: time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := w.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	send := "kubectl --kubeconfig " + identityKubeconfig + " create -f -"
	wh.assertOrder(t, send, "rm -f "+identityKubeconfig, "kubeadm join --config "+joinConfPath)
	if wh.perms[kubeletBootstrapKey] != 0o600 || wh.perms[identityKubeconfig] != 0o600 {
		t.Errorf("the key and the token's kubeconfig must be root-only: %v, %v", wh.perms[kubeletBootstrapKey], wh.perms[identityKubeconfig])
	}
	if _, kept := wh.files[identityKubeconfig]; kept {
		t.Error("the token's kubeconfig was left on the node")
	}
	// It trusts the published CA, checked against its pinned hash, and
	// carries the published token.
	jm, err := ReadJoin(ctx, c.bucket)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkCACert(jm); err != nil {
		t.Fatalf("the control plane published %v", err)
	}
	data, err := BootstrapKubeconfig(jm)
	if err != nil {
		t.Fatal(err)
	}
	kc, err := clientcmd.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	cl, ai := kc.Clusters[kc.Contexts[kc.CurrentContext].Cluster], kc.AuthInfos[kc.Contexts[kc.CurrentContext].AuthInfo]
	if cl.Server != "https://"+jm.APIEndpoint || string(cl.CertificateAuthorityData) != jm.CACert || ai.Token != jm.Token {
		t.Errorf("identity kubeconfig: server %s, token %t, CA %t", cl.Server, ai.Token == jm.Token, string(cl.CertificateAuthorityData) == jm.CACert)
	}
	tampered := jm
	tampered.CACertHashes = []string{"sha256:" + strings.Repeat("0", 64)}
	if err := checkCACert(tampered); err == nil {
		t.Error("a CA none of the pinned hashes names was trusted")
	}

	// What the API server would hold: the identity CSR as posted, and the
	// kubelet's own CSR of the key the agent wrote.
	var proof certificatesv1.CertificateSigningRequest
	if err := json.Unmarshal(wh.stdin[send], &proof); err != nil {
		t.Fatal(err)
	}
	if proof.Spec.SignerName != IdentitySigner || !strings.HasPrefix(proof.GenerateName, "kforge-identity-"+workerInstanceID) {
		t.Fatalf("identity CSR: signer %q, name %q", proof.Spec.SignerName, proof.GenerateName)
	}
	proof.Name, proof.Spec.Username = proof.GenerateName+"x1", "system:bootstrap:abcdef"
	key, err := keyutil.ParsePrivateKeyPEM(wh.files[kubeletBootstrapKey])
	if err != nil {
		t.Fatalf("the kubelet must be able to read its bootstrap key: %v", err)
	}
	kubelet := bootstrapCSRWithKey(t, "csr-kubelet", w.Instance.Hostname, keyOf(t, key))

	approve := func(instanceID, role string, csrs ...certificatesv1.CertificateSigningRequest) []string {
		h := &csrHost{list: certificatesv1.CertificateSigningRequestList{Items: csrs}}
		a := &Agent{
			Host: h, Instance: Instance{ID: "i-0aaaaaaaaaaaaaaaa"}, Cluster: Cluster{WorkerRoleARN: role},
			Nodes:    nodesByName{w.Instance.Hostname: {ID: instanceID, PrivateDNS: w.Instance.Hostname, Role: "worker"}},
			Verifier: STSIdentityVerifier{Region: region, Endpoint: c.url},
			Log:      slog.New(slog.NewTextHandler(io.Discard, nil)),
		}
		if err := a.ApproveCSRs(ctx); err != nil {
			t.Fatal(err)
		}
		return h.approved
	}
	if got := approve(workerInstanceID, workerRoleARN, kubelet, proof); !slices.Equal(got, []string{"csr-kubelet"}) {
		t.Errorf("the worker's own kubelet CSR: approved %v", got)
	}
	if got := approve("i-0cccccccccccccccc", workerRoleARN, kubelet, proof); len(got) > 0 {
		t.Errorf("a proof by %s approved a CSR for another instance's name: %v", workerInstanceID, got)
	}
	if got := approve(workerInstanceID, "arn:aws:iam::123456789012:role/demo-controller", kubelet, proof); len(got) > 0 {
		t.Errorf("a session of another role was taken for the worker role: %v", got)
	}
	if got := approve(workerInstanceID, workerRoleARN, kubelet); len(got) > 0 {
		t.Errorf("approved without a proof: %v", got)
	}
	// The token's holder asks for the worker's name with a key of its own.
	other := bootstrapCSR(t, "csr-other-key", w.Instance.Hostname)
	if got := approve(workerInstanceID, workerRoleARN, other, proof); len(got) > 0 {
		t.Errorf("a CSR of another key was approved on the worker's proof: %v", got)
	}
}

func keyOf(t *testing.T, k any) *ecdsa.PrivateKey {
	t.Helper()
	key, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("the kubelet bootstrap key is a %T, want ECDSA", k)
	}
	return key
}

// STS answers a proof with the signer's session. A proof whose signature
// does not cover the key header proves nothing and is not even sent; one
// with no header-based signature at all is refused by STS.
func TestSTSIdentityVerifier(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	digest := KeyDigest([]byte("public key"))
	proof, err := c.workerIdentity.ProveIdentity(ctx, digest)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(proof.Authorization, "x-kforge-kubelet-key") || proof.SecurityToken == "" || proof.Date == "" {
		t.Fatalf("proof %+v: want a session's signature over the key header", proof)
	}
	v := STSIdentityVerifier{Region: region, Endpoint: c.url}
	caller, err := v.VerifyIdentity(ctx, proof, digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckWorkerIdentity(caller, workerRoleARN, workerInstanceID); err != nil {
		t.Errorf("STS named %s: %v", caller, err)
	}
	unsigned := proof
	unsigned.Authorization = strings.Replace(proof.Authorization, ";x-kforge-kubelet-key", "", 1)
	if _, err := v.VerifyIdentity(ctx, unsigned, digest); err == nil || !strings.Contains(err.Error(), "does not cover") {
		t.Errorf("a signature without the key header: %v", err)
	}
}

// Only the worker role's session named after the instance, in the role's
// own partition and account, is that instance.
func TestCheckWorkerIdentity(t *testing.T) {
	const role = "arn:aws:iam::123456789012:role/demo-worker"
	for _, tc := range []struct {
		caller string
		ok     bool
	}{
		{"arn:aws:sts::123456789012:assumed-role/demo-worker/i-0123", true},
		{"arn:aws:sts::123456789012:assumed-role/demo-worker/i-0456", false},
		{"arn:aws:sts::123456789012:assumed-role/demo-controller/i-0123", false},
		{"arn:aws:sts::210987654321:assumed-role/demo-worker/i-0123", false},
		{"arn:aws-cn:sts::123456789012:assumed-role/demo-worker/i-0123", false},
		{"arn:aws:iam::123456789012:user/i-0123", false},
		{"arn:aws:sts::123456789012:federated-user/i-0123", false},
		{"not an arn", false},
	} {
		if err := CheckWorkerIdentity(tc.caller, role, "i-0123"); (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %t", tc.caller, err, tc.ok)
		}
	}
	if err := CheckWorkerIdentity("arn:aws:sts::123456789012:assumed-role/demo-worker/i-0123", "", "i-0123"); err == nil {
		t.Error("a cluster.json without the worker role approved a worker")
	}
	// A role with a path: EC2's sessions name the role without it.
	if err := CheckWorkerIdentity("arn:aws:sts::123456789012:assumed-role/demo-worker/i-0123", "arn:aws:iam::123456789012:role/kforge/demo-worker", "i-0123"); err != nil {
		t.Errorf("a role with a path: %v", err)
	}
}

// The agent's bootstrap key is one the kubelet's keyutil reads, and the
// identity request is signed by it.
func TestIdentityCSRIsSignedByTheKubeletKey(t *testing.T) {
	h := newRecorder(t, "worker")
	a := &Agent{Host: h}
	key, err := a.kubeletBootstrapKey()
	if err != nil {
		t.Fatal(err)
	}
	again, err := a.kubeletBootstrapKey()
	if err != nil {
		t.Fatal(err)
	}
	der1, _ := x509.MarshalPKIXPublicKey(key.Public())
	der2, _ := x509.MarshalPKIXPublicKey(again.Public())
	if string(der1) != string(der2) {
		t.Error("a second join attempt made a new key; the kubelet keeps the first")
	}
	csr, err := identityCSR(key, "ip-10-0-2-20.eu-west-1.compute.internal")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(csr)
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil || req.CheckSignature() != nil {
		t.Fatalf("identity request: %v", err)
	}
}
