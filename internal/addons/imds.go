package addons

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// IMDSAddress is the EC2 instance metadata service. The launch templates
// set a hop limit of 1, so its token reply never reaches a pod's network
// namespace; the Cilium policy below drops the pods' packets to it as well,
// so a later change of the hop limit alone does not hand out the role.
const IMDSAddress = "169.254.169.254"

// IMDSPolicyName names the cluster-wide policy denying pods the metadata service.
const IMDSPolicyName = "kforge-deny-instance-metadata"

// withInstanceRole places a controller that calls AWS with the control
// plane's instance role: on the control plane, on the host network (the
// only network from which a hop limit of 1 reaches the metadata service),
// resolving cluster names through CoreDNS all the same.
func withInstanceRole(spec *corev1.PodSpec) {
	onControlPlane(spec)
	spec.HostNetwork = true
	spec.DNSPolicy = corev1.DNSClusterFirstWithHostNet
}

// CiliumClusterwideNetworkPolicy mirrors the fields kforge sets of
// cilium.io/v2 CiliumClusterwideNetworkPolicy (Cilium's types are not a
// dependency).
type CiliumClusterwideNetworkPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              CiliumPolicyRule `json:"spec"`
}

// CiliumPolicyRule mirrors the parts of Cilium's api.Rule kforge uses.
type CiliumPolicyRule struct {
	Description       string               `json:"description,omitempty"`
	EndpointSelector  metav1.LabelSelector `json:"endpointSelector"`
	EnableDefaultDeny *CiliumDefaultDeny   `json:"enableDefaultDeny,omitempty"`
	EgressDeny        []CiliumEgressDeny   `json:"egressDeny,omitempty"`
}

// CiliumDefaultDeny mirrors api.DefaultDenyConfig. Both false: this policy
// only subtracts, it must not put the pods it selects into default deny.
type CiliumDefaultDeny struct {
	Ingress *bool `json:"ingress,omitempty"`
	Egress  *bool `json:"egress,omitempty"`
}

// CiliumEgressDeny mirrors api.EgressDenyRule (CIDR peers only).
type CiliumEgressDeny struct {
	ToCIDR []string `json:"toCIDR,omitempty"`
}

// GetObjectKind makes CiliumClusterwideNetworkPolicy a runtime.Object.
func (p *CiliumClusterwideNetworkPolicy) GetObjectKind() schema.ObjectKind { return &p.TypeMeta }

// DeepCopyObject returns a copy.
func (p *CiliumClusterwideNetworkPolicy) DeepCopyObject() runtime.Object {
	c := *p
	c.ObjectMeta = *p.ObjectMeta.DeepCopy()
	c.Spec.EndpointSelector = *p.Spec.EndpointSelector.DeepCopy()
	if p.Spec.EnableDefaultDeny != nil {
		d := *p.Spec.EnableDefaultDeny
		c.Spec.EnableDefaultDeny = &d
	}
	c.Spec.EgressDeny = nil
	for _, r := range p.Spec.EgressDeny {
		c.Spec.EgressDeny = append(c.Spec.EgressDeny, CiliumEgressDeny{ToCIDR: append([]string(nil), r.ToCIDR...)})
	}
	return &c
}

// denyInstanceMetadata selects every pod Cilium manages. No pod needs the
// metadata service: the controllers that call AWS run on the host network,
// which Cilium does not police (host firewall off), so they are unaffected.
func denyInstanceMetadata() runtime.Object {
	return &CiliumClusterwideNetworkPolicy{
		TypeMeta:   typeMeta("cilium.io/v2", "CiliumClusterwideNetworkPolicy"),
		ObjectMeta: meta(IMDSPolicyName, "", map[string]string{"app.kubernetes.io/managed-by": "kforge"}),
		Spec: CiliumPolicyRule{
			Description:       "No pod reaches the EC2 instance metadata service (instance role credentials); host-network pods are not subject to it.",
			EndpointSelector:  metav1.LabelSelector{},
			EnableDefaultDeny: &CiliumDefaultDeny{Ingress: ptr(false), Egress: ptr(false)},
			EgressDeny:        []CiliumEgressDeny{{ToCIDR: []string{IMDSAddress + "/32"}}},
		},
	}
}
