package node

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/client-go/tools/clientcmd"
)

// A worker joins with a proof of its identity, and the control plane's
// approver checks it with STS (the emulator's): the worker's agent asks
// for the kubelet's client certificate with the bootstrap token, over the
// pinned CA, with a key of its own and a proof signed for that key by its
// role session; stores the issued pair where the kubelet's certificate
// store keeps it; then runs kubeadm join. The request is approved for the
// instance whose session signed the proof, and for no other instance,
// role or key.
func TestJoiningWorkerProvesItsIdentity(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	c.bootstrapController(t, "controller", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	wh := newRecorder(t, "worker")
	w := c.worker(wh, fixedClock(t0), Backoff{Initial: time.Millisecond}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := w.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	create := "kubectl --kubeconfig " + joinKubeconfig + " create -o name -f -"
	wh.assertOrder(t, create, "kubectl --kubeconfig "+joinKubeconfig+" get certificatesigningrequest kforge-join-1 -o json",
		"rm -f "+joinKubeconfig, "kubeadm join --config "+joinConfPath)
	if wh.perms[joinKubeconfig] != 0o600 || wh.perms[kubeletClientCurrent] != 0o600 {
		t.Errorf("the token's kubeconfig and the kubelet's key must be root-only: %v, %v", wh.perms[joinKubeconfig], wh.perms[kubeletClientCurrent])
	}
	if _, kept := wh.files[joinKubeconfig]; kept {
		t.Error("the token's kubeconfig was left on the node")
	}
	// The kubelet's certificate store holds the issued certificate with
	// the key it was asked for, as client-go's store reads a pair.
	pair := wh.files[kubeletClientCurrent]
	cert, err := tls.X509KeyPair(pair, pair)
	if err != nil {
		t.Fatalf("the stored pair: %v", err)
	}
	if cert.Leaf.Subject.CommonName != "system:node:"+w.Instance.Hostname {
		t.Errorf("stored a certificate for %q", cert.Leaf.Subject.CommonName)
	}
	// The token's kubeconfig trusts the published CA, checked against its
	// pinned hash, and carries the published token.
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
		t.Errorf("join kubeconfig: server %s, token %t, CA %t", cl.Server, ai.Token == jm.Token, string(cl.CertificateAuthorityData) == jm.CACert)
	}
	tampered := jm
	tampered.CACertHashes = []string{"sha256:" + strings.Repeat("0", 64)}
	if err := checkCACert(tampered); err == nil {
		t.Error("a CA none of the pinned hashes names was trusted")
	}

	// The request as the API server holds it, and the control plane's
	// approver asking the emulator's STS.
	var req certificatesv1.CertificateSigningRequest
	if err := json.Unmarshal(wh.stdin[create], &req); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(req.GenerateName, "kforge-join-"+workerInstanceID) || req.Spec.SignerName != kubeletClientSigner {
		t.Fatalf("kubelet CSR: name %q, signer %q", req.GenerateName, req.Spec.SignerName)
	}
	req.Name, req.Spec.Username = "kforge-join-1", "system:bootstrap:abcdef"
	req.Spec.Groups = []string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"}
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
	if got := approve(workerInstanceID, workerRoleARN, req); !slices.Equal(got, []string{"kforge-join-1"}) {
		t.Errorf("the worker's own request: approved %v", got)
	}
	if got := approve("i-0cccccccccccccccc", workerRoleARN, req); len(got) > 0 {
		t.Errorf("a proof by %s approved a request for another instance's name: %v", workerInstanceID, got)
	}
	if got := approve(workerInstanceID, "arn:aws:iam::123456789012:role/demo-controller", req); len(got) > 0 {
		t.Errorf("a session of another role was taken for the worker role: %v", got)
	}
	bare := req
	bare.Annotations = nil
	if got := approve(workerInstanceID, workerRoleARN, bare); len(got) > 0 {
		t.Errorf("approved without a proof: %v", got)
	}
	// The token's holder copies the worker's proof onto a request of a
	// key of its own: the proof was signed for another key. (The emulator's
	// STS checks no signature; this is the verifier's own comparison, and
	// on AWS STS refuses a signature that does not cover the digest sent.)
	stolen := bootstrapCSR(t, "csr-thief", w.Instance.Hostname)
	stolen.Annotations = req.Annotations
	if got := approve(workerInstanceID, workerRoleARN, stolen, req); !slices.Equal(got, []string{"kforge-join-1"}) {
		t.Errorf("with a copied proof beside it: approved %v, want the worker's request only", got)
	}
}

// A retried join keeps a certificate an earlier attempt stored, and a
// request the control plane leaves pending ends the attempt with where to
// look, so the next one asks again with a new key and proof.
func TestKubeletClientBootstrapRetries(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	ch := c.bootstrapController(t, "controller", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	jm, err := ReadJoin(ctx, c.bucket)
	if err != nil {
		t.Fatal(err)
	}
	wh := newRecorder(t, "worker")
	wh.issuer = ch
	w := c.worker(wh, time.Now, Backoff{Initial: time.Millisecond, Sleep: func(context.Context, time.Duration) error { return nil }}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := w.bootstrapKubeletClient(ctx, jm); err != nil {
		t.Fatal(err)
	}
	if err := w.bootstrapKubeletClient(ctx, jm); err != nil {
		t.Fatal(err)
	}
	creates := 0
	for _, l := range wh.log {
		if strings.HasSuffix(l, " create -o name -f -") {
			creates++
		}
	}
	if creates != 1 {
		t.Errorf("asked %d times; a stored, valid certificate needs no second request", creates)
	}
	// A pair for this node from another CA (a control plane rebuilt
	// without its PKI backup) is not kept: the API server would refuse it
	// for its whole life.
	wh.files[kubeletClientCurrent] = foreignClientPair(t, "system:node:"+w.Instance.Hostname)
	if err := w.bootstrapKubeletClient(ctx, jm); err != nil {
		t.Fatal(err)
	}
	creates = 0
	for _, l := range wh.log {
		if strings.HasSuffix(l, " create -o name -f -") {
			creates++
		}
	}
	if creates != 2 {
		t.Errorf("asked %d times; a certificate of another CA must be asked for again", creates)
	}

	pending := newRecorder(t, "worker-pending")
	pending.csrPending = true
	clock := time.Now()
	p := c.worker(pending, func() time.Time { return clock }, Backoff{Sleep: func(context.Context, time.Duration) error {
		clock = clock.Add(time.Minute)
		return nil
	}}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	err = p.bootstrapKubeletClient(ctx, jm)
	if err == nil || !strings.Contains(err.Error(), "not approved within") || !strings.Contains(err.Error(), "kforge-approve-csrs") {
		t.Errorf("a request left pending: %v", err)
	}
	if _, kept := pending.files[joinKubeconfig]; kept {
		t.Error("the token's kubeconfig was left after a failed attempt")
	}
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

// Signer and verifier send the proof to the region's own STS endpoint, in
// its partition, or to the emulator.
func TestSTSEndpoint(t *testing.T) {
	for region, want := range map[string]string{
		"eu-west-1":     "https://sts.eu-west-1.amazonaws.com",
		"us-east-1":     "https://sts.us-east-1.amazonaws.com",
		"cn-north-1":    "https://sts.cn-north-1.amazonaws.com.cn",
		"us-gov-west-1": "https://sts.us-gov-west-1.amazonaws.com",
	} {
		got, err := STSEndpoint(context.Background(), region, "")
		if err != nil || got != want {
			t.Errorf("%s: %q, %v; want %s", region, got, err, want)
		}
	}
	if got, _ := STSEndpoint(context.Background(), "eu-west-1", "http://10.40.0.3:5000"); got != "http://10.40.0.3:5000" {
		t.Errorf("with an emulator: %q", got)
	}
}

// foreignClientPair is a client certificate and its key, PEM, for cn,
// issued by a CA of its own.
func foreignClientPair(t *testing.T, cn string) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})...)
}
