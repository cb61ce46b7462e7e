package node

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/kforge/kforge/internal/addons"
	"github.com/kforge/kforge/internal/nodelifecycle"
)

// The control plane approves two kinds of kubelet CSR, each only for a
// node the cluster knows: a running EC2 instance tagged with this cluster
// whose private DNS name is the node's name.
//
//   - A joining kubelet's client certificate, asked for with the workers'
//     bootstrap token. kubeadm would have the controller manager approve any
//     such request, whatever node it names (its nodeclient approver checks
//     the shape alone), so whoever holds the token could take an existing
//     node's identity. kforge removes that binding and approves a request
//     only for a worker instance that has no Node yet, and only with that
//     instance's proof of identity for the request's key (identity.go).
//   - A kubelet's serving certificate (serverTLSBootstrap), which Kubernetes
//     never approves by itself: asked by the node itself, only for that
//     instance's names and addresses.

// NodeInstance is what EC2 says about the instance behind a node name.
type NodeInstance struct {
	ID         string
	PrivateDNS string
	PublicDNS  string
	IPs        []string
	Role       string // the instance's kforge.io/role tag: controller or worker
}

// ErrUnknownNode means no running instance of this cluster has that name.
var ErrUnknownNode = errors.New("no running instance of this cluster has this name")

// NodeFinder looks up the instance behind a node name.
type NodeFinder interface {
	FindNode(ctx context.Context, name string) (NodeInstance, error)
}

// EC2NodeFinder finds nodes with DescribeInstances (allowed to both node roles).
type EC2NodeFinder struct {
	Client  *ec2.Client
	Cluster string
}

// FindNode returns the running instance of this cluster whose private DNS
// name is name, or ErrUnknownNode.
func (f EC2NodeFinder) FindNode(ctx context.Context, name string) (NodeInstance, error) {
	out, err := f.Client.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{
		{Name: aws.String("private-dns-name"), Values: []string{name}},
		{Name: aws.String("tag:kforge.io/cluster"), Values: []string{f.Cluster}},
		{Name: aws.String("instance-state-name"), Values: []string{"running"}},
	}})
	if err != nil {
		return NodeInstance{}, fmt.Errorf("looking up instance %s: %w", name, err)
	}
	var found []NodeInstance
	for _, r := range out.Reservations {
		for _, i := range r.Instances {
			// EC2 reads * and ? in a filter value as wildcards: only the
			// instance of exactly this name is the node's.
			if aws.ToString(i.PrivateDnsName) != name {
				continue
			}
			n := NodeInstance{ID: aws.ToString(i.InstanceId), PrivateDNS: aws.ToString(i.PrivateDnsName), PublicDNS: aws.ToString(i.PublicDnsName)}
			for _, t := range i.Tags {
				if aws.ToString(t.Key) == roleTag {
					n.Role = aws.ToString(t.Value)
				}
			}
			for _, ni := range i.NetworkInterfaces {
				for _, p := range ni.PrivateIpAddresses {
					n.IPs = append(n.IPs, aws.ToString(p.PrivateIpAddress))
					if p.Association != nil && p.Association.PublicIp != nil {
						n.IPs = append(n.IPs, aws.ToString(p.Association.PublicIp))
					}
				}
			}
			if len(n.IPs) == 0 {
				n.IPs = append(n.IPs, aws.ToString(i.PrivateIpAddress))
				if i.PublicIpAddress != nil {
					n.IPs = append(n.IPs, aws.ToString(i.PublicIpAddress))
				}
			}
			found = append(found, n)
		}
	}
	if len(found) != 1 {
		return NodeInstance{}, fmt.Errorf("%s: %w (%d matches)", name, ErrUnknownNode, len(found))
	}
	return found[0], nil
}

const (
	kubeletServingSigner = "kubernetes.io/kubelet-serving"
	kubeletClientSigner  = "kubernetes.io/kube-apiserver-client-kubelet"
	// roleTag is on every node instance (the node-group module's launch
	// template), controller or worker.
	roleTag = "kforge.io/role"
	// bootstrapApprovalBinding is kubeadm's ClusterRoleBinding that lets the
	// controller manager approve any client CSR a bootstrap token makes;
	// kubeadm init and upgrade apply (re)create it, the agent removes it.
	bootstrapApprovalBinding = "kubeadm:node-autoapprove-bootstrap"
)

// CheckBootstrapClientCSR returns the node name a joining kubelet's client
// CSR asks for, or why it is not such a request: signed by its key, asked
// with a bootstrap token, for CN=system:node:<name>, O=system:nodes, no
// other name, client usages only.
func CheckBootstrapClientCSR(csr certificatesv1.CertificateSigningRequest) (string, error) {
	name, _, err := checkBootstrapClientCSR(csr)
	return name, err
}

// checkBootstrapClientCSR is CheckBootstrapClientCSR that also returns the
// request's public key (PKIX DER), which tells one requester from another.
func checkBootstrapClientCSR(csr certificatesv1.CertificateSigningRequest) (string, string, error) {
	s := csr.Spec
	if s.SignerName != kubeletClientSigner {
		return "", "", fmt.Errorf("signer %q is not %s", s.SignerName, kubeletClientSigner)
	}
	if !strings.HasPrefix(s.Username, "system:bootstrap:") || !slices.Contains(s.Groups, "system:bootstrappers") {
		return "", "", fmt.Errorf("requested by %q (groups %v), not with a bootstrap token", s.Username, s.Groups)
	}
	for _, u := range s.Usages {
		if !slices.Contains([]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageClientAuth}, u) {
			return "", "", fmt.Errorf("usage %q is not one of a kubelet client certificate's", u)
		}
	}
	if !slices.Contains(s.Usages, certificatesv1.UsageClientAuth) {
		return "", "", fmt.Errorf("no client auth usage")
	}
	req, err := parseSignedRequest(s.Request)
	if err != nil {
		return "", "", err
	}
	name, ok := strings.CutPrefix(req.Subject.CommonName, "system:node:")
	if !ok || name == "" || !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return "", "", fmt.Errorf("subject %q is not CN=system:node:<name>, O=system:nodes", req.Subject)
	}
	if errs := validation.IsDNS1123Subdomain(name); len(errs) > 0 {
		return "", "", fmt.Errorf("node name %q is no Node name: %s", name, strings.Join(errs, "; "))
	}
	if len(req.DNSNames)+len(req.IPAddresses)+len(req.EmailAddresses)+len(req.URIs) > 0 {
		return "", "", fmt.Errorf("a client certificate names no DNS name, address, e-mail or URI")
	}
	der, err := x509.MarshalPKIXPublicKey(req.PublicKey)
	if err != nil {
		return "", "", fmt.Errorf("reading the request's public key: %w", err)
	}
	return name, string(der), nil
}

// parseSignedRequest decodes a PEM certificate request and checks that it
// is signed by the key it carries.
func parseSignedRequest(pemData []byte) (*x509.CertificateRequest, error) {
	block, _ := pem.Decode(pemData)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("request is not a PEM certificate request")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parsing the certificate request: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %w", err)
	}
	return req, nil
}

// CheckServingCSR returns nil when csr is a kubelet serving request that
// may be approved for inst, or why it may not.
func CheckServingCSR(csr certificatesv1.CertificateSigningRequest, nodeName string, inst NodeInstance) error {
	req, err := checkServingRequest(csr, nodeName)
	if err != nil {
		return err
	}
	return servingNamesOf(req, nodeName, inst)
}

// checkServingRequest is what CheckServingCSR checks without the
// instance: who asks, for what, and that the request is signed. It comes
// before the instance's lookup, so a request that fails it costs no EC2
// call.
func checkServingRequest(csr certificatesv1.CertificateSigningRequest, nodeName string) (*x509.CertificateRequest, error) {
	s := csr.Spec
	if s.SignerName != kubeletServingSigner {
		return nil, fmt.Errorf("signer %q is not %s", s.SignerName, kubeletServingSigner)
	}
	if s.Username != "system:node:"+nodeName || !slices.Contains(s.Groups, "system:nodes") {
		return nil, fmt.Errorf("requested by %q (groups %v), not by node %s itself", s.Username, s.Groups, nodeName)
	}
	for _, u := range s.Usages {
		if !slices.Contains([]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}, u) {
			return nil, fmt.Errorf("usage %q is not one of a serving certificate's", u)
		}
	}
	if !slices.Contains(s.Usages, certificatesv1.UsageServerAuth) {
		return nil, fmt.Errorf("no server auth usage")
	}
	req, err := parseSignedRequest(s.Request)
	if err != nil {
		return nil, err
	}
	if req.Subject.CommonName != "system:node:"+nodeName || !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return nil, fmt.Errorf("subject %q is not CN=system:node:%s, O=system:nodes", req.Subject, nodeName)
	}
	if len(req.EmailAddresses) > 0 || len(req.URIs) > 0 {
		return nil, fmt.Errorf("e-mail or URI names are not allowed")
	}
	if len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return nil, fmt.Errorf("no DNS name or IP address")
	}
	return req, nil
}

// servingNamesOf checks that every name and address the request asks for
// is the instance's.
func servingNamesOf(req *x509.CertificateRequest, nodeName string, inst NodeInstance) error {
	names := []string{nodeName, inst.PrivateDNS}
	if inst.PublicDNS != "" {
		names = append(names, inst.PublicDNS)
	}
	for _, d := range req.DNSNames {
		if !slices.Contains(names, strings.ToLower(d)) {
			return fmt.Errorf("DNS name %q is not instance %s's", d, inst.ID)
		}
	}
	for _, ip := range req.IPAddresses {
		if !slices.ContainsFunc(inst.IPs, func(s string) bool { return net.ParseIP(s).Equal(ip) }) {
			return fmt.Errorf("IP address %s is not instance %s's", ip, inst.ID)
		}
	}
	return nil
}

// pending reports whether no one has approved, denied or failed the CSR.
func pending(csr certificatesv1.CertificateSigningRequest) bool {
	for _, c := range csr.Status.Conditions {
		if c.Status == corev1.ConditionTrue || c.Status == "" {
			switch c.Type {
			case certificatesv1.CertificateApproved, certificatesv1.CertificateDenied, certificatesv1.CertificateFailed:
				return false
			}
		}
	}
	return true
}

// ApproveCSRs approves the pending kubelet CSRs that pass the checks above
// and leaves the others pending (logged), so that a transient EC2 answer
// never denies a real node; unapproved CSRs expire. It runs from
// kforge-approve-csrs.timer on the control plane.
func (a *Agent) ApproveCSRs(ctx context.Context) error {
	if a.Nodes == nil {
		return fmt.Errorf("approving CSRs: no EC2 node lookup configured")
	}
	out, err := a.Host.Run(ctx, a.kubectl("get", "certificatesigningrequests", "-o", "json"))
	if err != nil {
		return err
	}
	var list certificatesv1.CertificateSigningRequestList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return fmt.Errorf("decoding the CSR list: %w", err)
	}
	// Each name is looked up once per run, however many requests name it:
	// whoever holds the bootstrap token can post requests without end.
	nodes := &lookupOnce{next: a.Nodes, seen: map[string]lookup{}}
	if err := a.approveBootstrapCSRs(ctx, list.Items, nodes); err != nil {
		return err
	}
	for _, csr := range list.Items {
		if csr.Spec.SignerName != kubeletServingSigner || !pending(csr) {
			continue
		}
		nodeName := strings.TrimPrefix(csr.Spec.Username, "system:node:")
		var inst NodeInstance
		req, err := checkServingRequest(csr, nodeName)
		if err == nil {
			inst, err = nodes.FindNode(ctx, nodeName)
		}
		if err == nil {
			err = servingNamesOf(req, nodeName, inst)
		}
		if err != nil {
			a.logger().Warn("kubelet serving CSR left pending", "csr", csr.Name, "node", nodeName, "reason", err.Error())
			continue
		}
		if err := a.approve(ctx, csr.Name); err != nil {
			return err
		}
		a.logger().Info("kubelet serving CSR approved", "csr", csr.Name, "node", nodeName, "instance", inst.ID)
	}
	return nil
}

// lookupOnce is a NodeFinder that asks next once per name.
type lookupOnce struct {
	next NodeFinder
	seen map[string]lookup
}

type lookup struct {
	inst NodeInstance
	err  error
}

func (l *lookupOnce) FindNode(ctx context.Context, name string) (NodeInstance, error) {
	r, ok := l.seen[name]
	if !ok {
		r.inst, r.err = l.next.FindNode(ctx, name)
		l.seen[name] = r
	}
	return r.inst, r.err
}

// approveBootstrapCSRs approves a joining kubelet's client CSR when its
// node name is a running worker instance of this cluster with no Node of
// its own yet, and the request carries a proof, which STS confirms, that
// the worker role's session of that very instance signed for the
// request's key. Whoever else holds the bootstrap token can ask for any
// name, but cannot sign as another instance: their requests stay pending.
func (a *Agent) approveBootstrapCSRs(ctx context.Context, csrs []certificatesv1.CertificateSigningRequest, nodes NodeFinder) error {
	var registered map[string]string
	for _, csr := range csrs {
		if csr.Spec.SignerName != kubeletClientSigner || !strings.HasPrefix(csr.Spec.Username, "system:bootstrap:") || !pending(csr) {
			continue
		}
		name, key, err := checkBootstrapClientCSR(csr)
		var inst NodeInstance
		if err == nil && registered == nil {
			registered, err = a.nodeProviderIDs(ctx)
			if err != nil {
				return err
			}
		}
		if err == nil {
			inst, err = nodes.FindNode(ctx, name)
		}
		if err == nil {
			err = bootstrapAllowed(inst, a.Instance.ID, registered, name)
		}
		if err == nil {
			err = a.checkIdentityProof(ctx, csr, key, inst)
		}
		if err != nil {
			a.logger().Warn("kubelet client CSR left pending", "csr", csr.Name, "node", name, "reason", err.Error())
			continue
		}
		if pid, stale := registered[name]; stale {
			// The Node of a terminated instance whose address came back: a
			// kubelet would take it over with its old provider ID, pool
			// label and taints (the kubelet sets them only on creation).
			if _, err := a.Host.Run(ctx, a.kubectl("delete", "node", name, "--ignore-not-found")); err != nil {
				return fmt.Errorf("deleting the stale Node %s (provider ID %s) before %s joins: %w", name, pid, inst.ID, err)
			}
			a.logger().Info("stale Node deleted before its name joins again", "node", name, "stale_provider_id", pid, "instance", inst.ID)
			delete(registered, name)
		}
		if err := a.approve(ctx, csr.Name); err != nil {
			return err
		}
		a.logger().Info("kubelet client CSR approved", "csr", csr.Name, "node", name, "instance", inst.ID)
	}
	return nil
}

// checkIdentityProof returns nil when csr carries a proof that inst's
// session of the worker role signed for key (PKIX DER), as STS confirms;
// else why not. A proof older than STS's 15 minutes fails; the worker's
// next attempt asks again with a new key and proof.
func (a *Agent) checkIdentityProof(ctx context.Context, csr certificatesv1.CertificateSigningRequest, key string, inst NodeInstance) error {
	if a.Verifier == nil {
		return errors.New("no identity verifier configured")
	}
	raw, ok := csr.Annotations[IdentityProofAnnotation]
	if !ok {
		return errNoIdentityProof
	}
	var proof IdentityProof
	if err := json.Unmarshal([]byte(raw), &proof); err != nil {
		return fmt.Errorf("annotation %s: %w", IdentityProofAnnotation, err)
	}
	caller, err := a.Verifier.VerifyIdentity(ctx, proof, KeyDigest([]byte(key)))
	if err != nil {
		return err
	}
	return CheckWorkerIdentity(caller, a.Cluster.WorkerRoleARN, inst.ID)
}

// bootstrapAllowed says why inst may not join as name, or nil: it must be
// a worker, not this control plane, and not yet registered. A Node of that
// name with another instance's provider ID is stale: private DNS names are
// unique among running instances, so that instance is gone.
func bootstrapAllowed(inst NodeInstance, self string, registered map[string]string, name string) error {
	if inst.ID == self || inst.Role == "controller" {
		return fmt.Errorf("instance %s is the control plane, which never joins with the token", inst.ID)
	}
	if inst.Role != "worker" {
		return fmt.Errorf("instance %s has no %s=worker tag", inst.ID, roleTag)
	}
	if pid, ok := registered[name]; ok && (pid == "" || nodelifecycle.InstanceOf(pid) == inst.ID) {
		return fmt.Errorf("node %s is already registered (provider ID %q)", name, pid)
	}
	return nil
}

// nodeProviderIDs maps each Node's name to its spec.providerID.
func (a *Agent) nodeProviderIDs(ctx context.Context) (map[string]string, error) {
	out, err := a.Host.Run(ctx, a.kubectl("get", "nodes", "-o", "json"))
	if err != nil {
		return nil, err
	}
	var nodes corev1.NodeList
	if err := json.Unmarshal([]byte(out), &nodes); err != nil {
		return nil, fmt.Errorf("decoding the node list: %w", err)
	}
	ids := make(map[string]string, len(nodes.Items))
	for _, n := range nodes.Items {
		ids[n.Name] = n.Spec.ProviderID
	}
	return ids, nil
}

func (a *Agent) approve(ctx context.Context, csr string) error {
	_, err := a.Host.Run(ctx, a.kubectl("certificate", "approve", csr))
	return err
}

// workerJoinRBACPath is where the agent writes addons.WorkerJoinRBAC.
const workerJoinRBACPath = stateDir + "/worker-join-rbac.yaml"

// applyWorkerJoinRBAC binds what a join needs to the group of the tokens
// the agent publishes (addons.WorkerTokenGroup), before it publishes one.
// Applied on every boot: a restored etcd may predate it.
func (a *Agent) applyWorkerJoinRBAC(ctx context.Context) error {
	manifest, err := addons.RenderWorkerJoinRBAC()
	if err != nil {
		return err
	}
	if err := a.Host.WriteFile(workerJoinRBACPath, manifest, 0o600); err != nil {
		return err
	}
	if _, err := a.Host.Run(ctx, a.kubectl("apply", "--server-side", "--force-conflicts", "-f", workerJoinRBACPath)); err != nil {
		return fmt.Errorf("binding the join roles to the workers' token group: %w", err)
	}
	return nil
}

// removeBootstrapAutoApproval deletes kubeadm's binding that approves any
// bootstrap token's client CSR, so that only ApproveCSRs approves them.
func (a *Agent) removeBootstrapAutoApproval(ctx context.Context) error {
	if _, err := a.Host.Run(ctx, a.kubectl("delete", "clusterrolebinding", bootstrapApprovalBinding, "--ignore-not-found")); err != nil {
		return fmt.Errorf("removing kubeadm's automatic approval of bootstrap client CSRs: %w", err)
	}
	return nil
}
