package node

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kforge/kforge/internal/addons"
)

const csrNode = "ip-10-0-2-20.eu-west-1.compute.internal"

var csrInstance = NodeInstance{ID: "i-0fedcba9876543210", PrivateDNS: csrNode, IPs: []string{"10.0.2.20", "203.0.113.20"}, Role: "worker"}

// servingCSR builds a kubelet serving CSR as the kubelet makes it: a real
// signed request, CN system:node:<name>, O system:nodes.
func servingCSR(t *testing.T, name, cn string, dns []string, ips []string, usages ...certificatesv1.KeyUsage) certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn, Organization: []string{"system:nodes"}}, DNSNames: dns}
	for _, ip := range ips {
		tmpl.IPAddresses = append(tmpl.IPAddresses, net.ParseIP(ip))
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	if len(usages) == 0 {
		usages = []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth}
	}
	return certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: kubeletServingSigner,
			Usages:     usages,
			Username:   "system:node:" + csrNode,
			Groups:     []string{"system:nodes", "system:authenticated"},
		},
	}
}

func TestCheckServingCSR(t *testing.T) {
	good := func() certificatesv1.CertificateSigningRequest {
		return servingCSR(t, "csr-good", "system:node:"+csrNode, []string{csrNode}, []string{"10.0.2.20"})
	}
	if err := CheckServingCSR(good(), csrNode, csrInstance); err != nil {
		t.Fatalf("the kubelet's own request is refused: %v", err)
	}
	cases := []struct {
		name string
		csr  func() certificatesv1.CertificateSigningRequest
		want string
	}{
		{"another node's address", func() certificatesv1.CertificateSigningRequest {
			return servingCSR(t, "x", "system:node:"+csrNode, []string{csrNode}, []string{"10.0.1.10"})
		}, "IP address 10.0.1.10"},
		{"a foreign DNS name", func() certificatesv1.CertificateSigningRequest {
			return servingCSR(t, "x", "system:node:"+csrNode, []string{"api.dev.example.com"}, nil)
		}, "DNS name"},
		{"another node's CN", func() certificatesv1.CertificateSigningRequest {
			return servingCSR(t, "x", "system:node:ip-10-0-1-10.eu-west-1.compute.internal", []string{csrNode}, nil)
		}, "subject"},
		{"client auth usage", func() certificatesv1.CertificateSigningRequest {
			return servingCSR(t, "x", "system:node:"+csrNode, []string{csrNode}, nil, certificatesv1.UsageServerAuth, certificatesv1.UsageClientAuth)
		}, "usage"},
		{"asked by someone else", func() certificatesv1.CertificateSigningRequest {
			c := good()
			c.Spec.Username = "system:serviceaccount:default:intruder"
			return c
		}, "not by node"},
		{"client signer", func() certificatesv1.CertificateSigningRequest {
			c := good()
			c.Spec.SignerName = "kubernetes.io/kube-apiserver-client-kubelet"
			return c
		}, "signer"},
		{"tampered request", func() certificatesv1.CertificateSigningRequest {
			c := good()
			block, _ := pem.Decode(c.Spec.Request)
			block.Bytes[len(block.Bytes)-1] ^= 0xff
			c.Spec.Request = pem.EncodeToMemory(block)
			return c
		}, "signature"},
		{"no names", func() certificatesv1.CertificateSigningRequest {
			return servingCSR(t, "x", "system:node:"+csrNode, nil, nil)
		}, "no DNS name or IP"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckServingCSR(tc.csr(), csrNode, csrInstance)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, tc.want)
			}
		})
	}
}

// bootstrapCSR builds a joining kubelet's client CSR as the kubelet makes
// it with a bootstrap token: a real signed request, CN system:node:<name>,
// O system:nodes, no names.
func bootstrapCSR(t *testing.T, name, node string) certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return bootstrapCSRWithKey(t, name, node, key)
}

// bootstrapCSRWithKey is bootstrapCSR signed with key, as a kubelet that
// restarted asks again with the key it kept.
func bootstrapCSRWithKey(t *testing.T, name, node string, key *ecdsa.PrivateKey) certificatesv1.CertificateSigningRequest {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "system:node:" + node, Organization: []string{"system:nodes"}}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			Request:    pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			SignerName: kubeletClientSigner,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageClientAuth},
			Username:   "system:bootstrap:abcdef",
			Groups:     []string{"system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"},
		},
	}
}

func TestCheckBootstrapClientCSR(t *testing.T) {
	if name, err := CheckBootstrapClientCSR(bootstrapCSR(t, "x", csrNode)); err != nil || name != csrNode {
		t.Fatalf("the joining kubelet's request: %q, %v", name, err)
	}
	cases := []struct {
		name string
		edit func(*certificatesv1.CertificateSigningRequest)
		want string
	}{
		{"asked by a node, not a token", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Username, c.Spec.Groups = "system:node:"+csrNode, []string{"system:nodes"}
		}, "not with a bootstrap token"},
		{"the serving signer", func(c *certificatesv1.CertificateSigningRequest) { c.Spec.SignerName = kubeletServingSigner }, "signer"},
		{"server auth usage", func(c *certificatesv1.CertificateSigningRequest) {
			c.Spec.Usages = append(c.Spec.Usages, certificatesv1.UsageServerAuth)
		}, "usage"},
		{"a subject that is no node", func(c *certificatesv1.CertificateSigningRequest) {
			*c = withSubject(t, *c, pkix.Name{CommonName: "system:admin", Organization: []string{"system:masters"}}, nil)
		}, "subject"},
		{"a name with EC2's filter wildcards", func(c *certificatesv1.CertificateSigningRequest) {
			*c = withSubject(t, *c, pkix.Name{CommonName: "system:node:ip-10-0-2-2?.eu-west-1.compute.internal", Organization: []string{"system:nodes"}}, nil)
		}, "no Node name"},
		{"names in a client certificate", func(c *certificatesv1.CertificateSigningRequest) {
			*c = withSubject(t, *c, pkix.Name{CommonName: "system:node:" + csrNode, Organization: []string{"system:nodes"}}, []string{"api.dev.example.com"})
		}, "names no DNS name"},
		{"tampered request", func(c *certificatesv1.CertificateSigningRequest) {
			block, _ := pem.Decode(c.Spec.Request)
			block.Bytes[len(block.Bytes)-1] ^= 0xff
			c.Spec.Request = pem.EncodeToMemory(block)
		}, "signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			csr := bootstrapCSR(t, "x", csrNode)
			tc.edit(&csr)
			if _, err := CheckBootstrapClientCSR(csr); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a refusal mentioning %q", err, tc.want)
			}
		})
	}
}

// withSubject re-signs c's request with another subject and DNS names.
func withSubject(t *testing.T, c certificatesv1.CertificateSigningRequest, subject pkix.Name, dns []string) certificatesv1.CertificateSigningRequest {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: subject, DNSNames: dns}, key)
	if err != nil {
		t.Fatal(err)
	}
	c.Spec.Request = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	return c
}

// csrHost answers kubectl's CSR and Node lists and records approvals.
type csrHost struct {
	list     certificatesv1.CertificateSigningRequestList
	nodes    corev1.NodeList
	approved []string
	deleted  []string
}

func (h *csrHost) Run(_ context.Context, c Command) (string, error) {
	line := c.String()
	switch {
	case strings.Contains(line, " get certificatesigningrequests -o json"):
		b, err := json.Marshal(h.list)
		return string(b), err
	case strings.Contains(line, " get nodes -o json"):
		b, err := json.Marshal(h.nodes)
		return string(b), err
	case strings.Contains(line, " delete node "):
		h.deleted = append(h.deleted, c.Args[len(c.Args)-2])
		return "", nil
	case strings.Contains(line, " certificate approve "):
		h.approved = append(h.approved, c.Args[len(c.Args)-1])
		return "", nil
	}
	return "", fmt.Errorf("unexpected command %s", line)
}
func (h *csrHost) WriteFile(string, []byte, fs.FileMode) error { return nil }
func (h *csrHost) ReadFile(string) ([]byte, error)             { return nil, fs.ErrNotExist }
func (h *csrHost) Open(string) (io.ReadSeekCloser, error)      { return nil, fs.ErrNotExist }
func (h *csrHost) Create(string, fs.FileMode) (io.WriteCloser, error) {
	return nil, errors.New("csrHost writes no files")
}

type nodesByName map[string]NodeInstance

func (n nodesByName) FindNode(_ context.Context, name string) (NodeInstance, error) {
	if i, ok := n[name]; ok {
		return i, nil
	}
	return NodeInstance{}, ErrUnknownNode
}

// countingNodes counts the lookups by name.
type countingNodes struct {
	nodesByName
	asked map[string]int
}

func (c *countingNodes) FindNode(ctx context.Context, name string) (NodeInstance, error) {
	c.asked[name]++
	return c.nodesByName.FindNode(ctx, name)
}

// Whoever holds the bootstrap token can post requests without end; each
// costs the approver no EC2 call when its form is wrong (a serving request
// not made by the node itself), and one per name and run otherwise.
func TestApproverLooksEachNameUpOnce(t *testing.T) {
	var items []certificatesv1.CertificateSigningRequest
	for i := range 5 {
		junk := servingCSR(t, fmt.Sprintf("csr-junk-%d", i), "system:node:"+csrNode, []string{csrNode}, []string{"10.0.2.20"})
		junk.Spec.Username, junk.Spec.Groups = "system:bootstrap:abcdef", []string{"system:bootstrappers"}
		items = append(items, junk, bootstrapCSR(t, fmt.Sprintf("csr-same-%d", i), "ip-10-9-9-9.eu-west-1.compute.internal"))
	}
	items = append(items, servingCSR(t, "csr-good", "system:node:"+csrNode, []string{csrNode}, []string{"10.0.2.20"}))
	h := &csrHost{list: certificatesv1.CertificateSigningRequestList{Items: items}}
	nodes := &countingNodes{nodesByName: nodesByName{csrNode: csrInstance}, asked: map[string]int{}}
	a := &Agent{Host: h, Nodes: nodes, Verifier: standInSTS{}}
	if err := a.ApproveCSRs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(h.approved, ",") != "csr-good" {
		t.Errorf("approved %v, want only csr-good", h.approved)
	}
	if want := map[string]int{csrNode: 1, "ip-10-9-9-9.eu-west-1.compute.internal": 1}; fmt.Sprint(nodes.asked) != fmt.Sprint(want) {
		t.Errorf("lookups %v, want %v", nodes.asked, want)
	}
}

// Only the pending serving CSR of a known instance asking for its own
// addresses is approved; others stay pending, approved ones are not redone.
func TestApproveServingCSRs(t *testing.T) {
	good := servingCSR(t, "csr-good", "system:node:"+csrNode, []string{csrNode}, []string{"10.0.2.20"})
	forged := servingCSR(t, "csr-forged", "system:node:"+csrNode, []string{csrNode}, []string{"10.0.1.10"})
	done := servingCSR(t, "csr-done", "system:node:"+csrNode, []string{csrNode}, []string{"10.0.2.20"})
	done.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
	stranger := servingCSR(t, "csr-stranger", "system:node:ip-10-9-9-9.eu-west-1.compute.internal", nil, []string{"10.9.9.9"})
	stranger.Spec.Username = "system:node:ip-10-9-9-9.eu-west-1.compute.internal"
	h := &csrHost{list: certificatesv1.CertificateSigningRequestList{Items: []certificatesv1.CertificateSigningRequest{good, forged, done, stranger}}}
	a := &Agent{Host: h, Nodes: nodesByName{csrNode: csrInstance}}
	if err := a.ApproveCSRs(context.Background()); err != nil {
		t.Fatal(err)
	}
	if strings.Join(h.approved, ",") != "csr-good" {
		t.Errorf("approved %v, want only csr-good", h.approved)
	}
}

// A joining kubelet's client CSR is approved only for a worker instance of
// this cluster with no Node yet, and only with a proof, signed by that
// instance's session of the worker role, for the request's own key: the
// bootstrap token alone never buys a node's identity, the control plane's
// least of all, nor a new worker's before it asks, and another request
// for its name does not keep it out.
func TestApproveBootstrapClientCSRs(t *testing.T) {
	const (
		self     = "i-0aaaaaaaaaaaaaaaa"
		joined   = "ip-10-0-1-11.eu-west-1.compute.internal"
		stale    = "ip-10-0-1-12.eu-west-1.compute.internal"
		raced    = "ip-10-0-1-13.eu-west-1.compute.internal"
		unproven = "ip-10-0-1-16.eu-west-1.compute.internal"
		otherKey = "ip-10-0-1-18.eu-west-1.compute.internal"
		cpName   = "ip-10-0-1-10.eu-west-1.compute.internal"
		stranger = "ip-10-9-9-9.eu-west-1.compute.internal"
		thief    = "i-0000000000000099a"
	)
	instances := nodesByName{
		csrNode:  csrInstance,
		joined:   {ID: "i-0000000000000011a", PrivateDNS: joined, Role: "worker"},
		stale:    {ID: "i-0000000000000012a", PrivateDNS: stale, Role: "worker"},
		raced:    {ID: "i-0000000000000013a", PrivateDNS: raced, Role: "worker"},
		unproven: {ID: "i-0000000000000016a", PrivateDNS: unproven, Role: "worker"},
		otherKey: {ID: "i-0000000000000018a", PrivateDNS: otherKey, Role: "worker"},
		cpName:   {ID: self, PrivateDNS: cpName, Role: "controller"},
	}
	node := func(name, providerID string) corev1.Node {
		return corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: providerID}}
	}
	done := provenCSR(t, "csr-done", csrNode, csrInstance.ID)
	done.Status.Conditions = []certificatesv1.CertificateSigningRequestCondition{{Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue}}
	wrongKey := provenCSR(t, "csr-other-key", otherKey, "i-0000000000000018a")
	wrongKey.Annotations = provenCSR(t, "x", otherKey, "i-0000000000000018a").Annotations
	h := &csrHost{
		list: certificatesv1.CertificateSigningRequestList{Items: []certificatesv1.CertificateSigningRequest{
			provenCSR(t, "csr-new", csrNode, csrInstance.ID),
			provenCSR(t, "csr-over-stale", stale, "i-0000000000000012a"),
			provenCSR(t, "csr-as-joined", joined, "i-0000000000000011a"),
			done,
			// The token's holder asked for a new worker's name with a proof
			// of its own instance, before and beside the worker.
			provenCSR(t, "csr-raced-thief", raced, thief),
			provenCSR(t, "csr-raced-worker", raced, "i-0000000000000013a"),
			bootstrapCSR(t, "csr-unproven", unproven),
			// A proof the instance signed for another key.
			wrongKey,
			provenCSR(t, "csr-as-control-plane", cpName, self),
			provenCSR(t, "csr-unknown", stranger, thief),
		}},
		nodes: corev1.NodeList{Items: []corev1.Node{
			node(cpName, "aws:///eu-west-1a/"+self),
			node(joined, "aws:///eu-west-1a/i-0000000000000011a"),
			// The Node of a terminated instance whose address came back.
			node(stale, "aws:///eu-west-1a/i-0000000000000099z"),
		}},
	}
	a := &Agent{Host: h, Nodes: instances, Instance: Instance{ID: self}, Verifier: standInSTS{},
		Cluster: Cluster{WorkerRoleARN: "arn:aws:iam::123456789012:role/demo-worker"}}
	if err := a.ApproveCSRs(context.Background()); err != nil {
		t.Fatal(err)
	}
	slices.Sort(h.approved)
	if got := strings.Join(h.approved, ","); got != "csr-new,csr-over-stale,csr-raced-worker" {
		t.Errorf("approved %q, want csr-new, csr-over-stale and the raced worker's own", got)
	}
	// The stale Node goes first, so the kubelet registers a Node of its
	// own (provider ID, pool label, taints) instead of taking it over.
	if strings.Join(h.deleted, ",") != stale {
		t.Errorf("deleted Nodes %v, want only the stale %s", h.deleted, stale)
	}
}

// provenCSR is bootstrapCSR carrying a stand-in proof by instance for its
// key.
func provenCSR(t *testing.T, name, node, instance string) certificatesv1.CertificateSigningRequest {
	t.Helper()
	key := newKey(t)
	der, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	csr := bootstrapCSRWithKey(t, name, node, key)
	p, err := json.Marshal(IdentityProof{Authorization: "signed-by:" + instance, KeyDigest: KeyDigest(der)})
	if err != nil {
		t.Fatal(err)
	}
	csr.Annotations = map[string]string{IdentityProofAnnotation: string(p)}
	return csr
}

func newKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// standInSTS answers for a proof the way STS does for a signature: the
// signer's session (here named in the Authorization), only when what was
// signed for is the digest asked about. STS itself is asked in
// TestJoiningWorkerProvesItsIdentity.
type standInSTS struct{}

func (standInSTS) VerifyIdentity(_ context.Context, p IdentityProof, keyDigest string) (string, error) {
	instance, ok := strings.CutPrefix(p.Authorization, "signed-by:")
	if !ok || p.KeyDigest != keyDigest {
		return "", errors.New("SignatureDoesNotMatch")
	}
	return "arn:aws:sts::123456789012:assumed-role/demo-worker/" + instance, nil
}

// kubeadm init and upgrade apply create the binding that would approve any
// bootstrap client CSR; the control plane removes it before it publishes
// the token, and starts the approver then.
func TestControlPlaneRemovesBootstrapAutoApproval(t *testing.T) {
	_, h, _ := controllerAt(t, "", "1.36.6")
	h.assertOrder(t,
		"kubeadm init",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f /var/lib/kforge/worker-join-rbac.yaml",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf delete clusterrolebinding kubeadm:node-autoapprove-bootstrap --ignore-not-found",
		"systemctl enable --now kforge-approve-csrs.timer",
		"kubeadm token create",
	)
	want, err := addons.RenderWorkerJoinRBAC()
	if err != nil {
		t.Fatal(err)
	}
	if got, err := h.ReadFile(workerJoinRBACPath); err != nil || !bytes.Equal(got, want) {
		t.Errorf("%s is not addons.WorkerJoinRBAC (%v)", workerJoinRBACPath, err)
	}
	// The published tokens are of kforge's group, which kubeadm's
	// automatic approval, made again by every init and upgrade, never names.
	for _, c := range h.commands() {
		if strings.HasPrefix(c, "kubeadm token create") && !strings.HasSuffix(c, " --groups "+addons.WorkerTokenGroup) {
			t.Errorf("%s: not in the group %s", c, addons.WorkerTokenGroup)
		}
	}
}

// A replacement control plane's kubeadm init, over a restored etcd that
// still holds the published token, makes kubeadm's automatic approval
// again: it is deleted before the CNI install, which may take half an hour
// of attempts, not after it.
func TestReplacementRemovesBootstrapAutoApprovalBeforeTheCNI(t *testing.T) {
	c := newCloud(t)
	c.bootstrapController(t, "first", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	second := c.bootstrapController(t, "second", "10.0.3.30", "i-0cccccccccccccccc", t0.Add(2*time.Hour))
	second.assertOrder(t,
		"kubeadm init",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf delete clusterrolebinding kubeadm:node-autoapprove-bootstrap --ignore-not-found",
		"helm-sdk install-or-upgrade",
	)
}

// The EC2 lookup finds a running instance of this cluster by its private
// DNS name and returns its addresses; another cluster's is unknown.
func TestEC2NodeFinder(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	client := ec2.NewFromConfig(c.cfg)
	run := func(cluster string) ec2types.Instance {
		out, err := client.RunInstances(ctx, &ec2.RunInstancesInput{
			ImageId: aws.String("ami-12c6146b"), MinCount: aws.Int32(1), MaxCount: aws.Int32(1), InstanceType: ec2types.InstanceTypeT3Medium,
			TagSpecifications: []ec2types.TagSpecification{{ResourceType: ec2types.ResourceTypeInstance,
				Tags: []ec2types.Tag{{Key: aws.String("kforge.io/cluster"), Value: aws.String(cluster)}}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		return out.Instances[0]
	}
	mine, theirs := run("demo"), run("other")
	f := EC2NodeFinder{Client: client, Cluster: "demo"}
	got, err := f.FindNode(ctx, aws.ToString(mine.PrivateDnsName))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != aws.ToString(mine.InstanceId) || !strings.Contains(strings.Join(got.IPs, ","), aws.ToString(mine.PrivateIpAddress)) {
		t.Errorf("found %+v, want %s with %s", got, aws.ToString(mine.InstanceId), aws.ToString(mine.PrivateIpAddress))
	}
	if _, err := f.FindNode(ctx, aws.ToString(theirs.PrivateDnsName)); err == nil {
		t.Error("another cluster's instance was accepted")
	}
	// EC2 reads ? as a wildcard in a filter (the emulator does not): the
	// answer must be the instance of exactly that name.
	wild := aws.ToString(mine.PrivateDnsName)
	wild = wild[:3] + "?" + wild[4:]
	if _, err := f.FindNode(ctx, wild); err == nil {
		t.Errorf("%s found an instance", wild)
	}
}
