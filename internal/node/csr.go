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
)

// Kubelets request their serving certificates (serverTLSBootstrap) through
// CSRs for the kubernetes.io/kubelet-serving signer, which Kubernetes never
// approves by itself. The control plane approves one only for a node the
// cluster knows: a running EC2 instance tagged with this cluster whose
// private DNS name is the node's name, asking only for that instance's
// names and addresses. A kubelet registered with a stolen bootstrap token
// can therefore not get a certificate for another node's address.

// NodeInstance is what EC2 says about the instance behind a node name.
type NodeInstance struct {
	ID         string
	PrivateDNS string
	PublicDNS  string
	IPs        []string
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
			n := NodeInstance{ID: aws.ToString(i.InstanceId), PrivateDNS: aws.ToString(i.PrivateDnsName), PublicDNS: aws.ToString(i.PublicDnsName)}
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

const kubeletServingSigner = "kubernetes.io/kubelet-serving"

// CheckServingCSR returns nil when csr is a kubelet serving request that
// may be approved for inst, or why it may not.
func CheckServingCSR(csr certificatesv1.CertificateSigningRequest, nodeName string, inst NodeInstance) error {
	s := csr.Spec
	if s.SignerName != kubeletServingSigner {
		return fmt.Errorf("signer %q is not %s", s.SignerName, kubeletServingSigner)
	}
	if s.Username != "system:node:"+nodeName || !slices.Contains(s.Groups, "system:nodes") {
		return fmt.Errorf("requested by %q (groups %v), not by node %s itself", s.Username, s.Groups, nodeName)
	}
	for _, u := range s.Usages {
		if !slices.Contains([]certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth}, u) {
			return fmt.Errorf("usage %q is not one of a serving certificate's", u)
		}
	}
	if !slices.Contains(s.Usages, certificatesv1.UsageServerAuth) {
		return fmt.Errorf("no server auth usage")
	}
	block, _ := pem.Decode(s.Request)
	if block == nil || block.Type != "CERTIFICATE REQUEST" {
		return fmt.Errorf("request is not a PEM certificate request")
	}
	req, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return fmt.Errorf("parsing the certificate request: %w", err)
	}
	if err := req.CheckSignature(); err != nil {
		return fmt.Errorf("certificate request signature: %w", err)
	}
	if req.Subject.CommonName != "system:node:"+nodeName || !slices.Equal(req.Subject.Organization, []string{"system:nodes"}) {
		return fmt.Errorf("subject %q is not CN=system:node:%s, O=system:nodes", req.Subject, nodeName)
	}
	if len(req.EmailAddresses) > 0 || len(req.URIs) > 0 {
		return fmt.Errorf("e-mail or URI names are not allowed")
	}
	if len(req.DNSNames)+len(req.IPAddresses) == 0 {
		return fmt.Errorf("no DNS name or IP address")
	}
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

// ApproveServingCSRs approves the pending kubelet serving CSRs that pass
// CheckServingCSR and leaves the others pending (logged), so that a
// transient EC2 answer never denies a real node; unapproved CSRs expire.
// It runs from kforge-approve-csrs.timer on the control plane.
func (a *Agent) ApproveServingCSRs(ctx context.Context) error {
	if a.Nodes == nil {
		return fmt.Errorf("approving CSRs: no EC2 node lookup configured")
	}
	out, err := a.run(ctx, "kubectl", "--kubeconfig", adminConf, "get", "certificatesigningrequests", "-o", "json")
	if err != nil {
		return err
	}
	var list certificatesv1.CertificateSigningRequestList
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return fmt.Errorf("decoding the CSR list: %w", err)
	}
	for _, csr := range list.Items {
		if csr.Spec.SignerName != kubeletServingSigner || !pending(csr) {
			continue
		}
		nodeName := strings.TrimPrefix(csr.Spec.Username, "system:node:")
		inst, err := a.Nodes.FindNode(ctx, nodeName)
		if err == nil {
			err = CheckServingCSR(csr, nodeName, inst)
		}
		if err != nil {
			a.logger().Warn("kubelet serving CSR left pending", "csr", csr.Name, "node", nodeName, "reason", err.Error())
			continue
		}
		if _, err := a.run(ctx, "kubectl", "--kubeconfig", adminConf, "certificate", "approve", csr.Name); err != nil {
			return err
		}
		a.logger().Info("kubelet serving CSR approved", "csr", csr.Name, "node", nodeName, "instance", inst.ID)
	}
	return nil
}
