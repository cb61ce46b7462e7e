// Package addons renders the Kubernetes manifests the control plane
// applies: Cluster Autoscaler, the AWS EFS CSI driver with its StorageClass,
// metrics-server, the Traefik ingress controller and cert-manager's
// ClusterIssuers. Core kinds are built from k8s.io/api types; the few
// custom kinds kforge emits (ClusterIssuer, APIService) have minimal typed
// structs in this package.
//
// Images are named by tag here; render.go points each at the digest
// upstream.Downloads pins for it, where the publisher's record of that
// digest could be read (docs/SECURITY.md, "Supply chain"). An invented
// digest would be worse than none, so the others stay by tag until
// `make pins` resolves them.
package addons

import (
	"fmt"
	"strings"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/upstream"
)

// Pinned versions.
const (
	// CiliumVersion is the vendored chart's version (internal/upstream).
	CiliumVersion        = upstream.CiliumChartVersion
	CertManagerVersion   = upstream.CertManagerVersion
	TraefikImage         = "docker.io/library/traefik:v3.7.5"
	MetricsServerImage   = "registry.k8s.io/metrics-server/metrics-server:v0.8.1"
	EFSCSIImage          = "public.ecr.aws/efs-csi-driver/amazon/aws-efs-csi-driver:v2.3.0"
	CSIProvisionerImage  = "registry.k8s.io/sig-storage/csi-provisioner:v5.2.0"
	CSIRegistrarImage    = "registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0"
	CSILivenessProbe     = "registry.k8s.io/sig-storage/livenessprobe:v2.15.0"
	clusterAutoscalerRep = "registry.k8s.io/autoscaling/cluster-autoscaler"
)

// clusterAutoscalerByMinor pins the Cluster Autoscaler release built for
// each Kubernetes minor (CA supports exactly its own minor). Its keys are
// exactly the minors of config.SupportedKubernetesVersions(), the one list
// of supported versions; TestAutoscalerPinsMatchSupportedMinors keeps the
// two in step.
var clusterAutoscalerByMinor = map[string]string{
	"1.35": "v1.35.1",
	"1.36": "v1.36.0",
}

// ClusterAutoscalerImage returns the image for a Kubernetes version, or an
// error naming the supported minors.
func ClusterAutoscalerImage(kubernetesVersion string) (string, error) {
	minor, err := config.KubernetesMinor(kubernetesVersion)
	if err != nil {
		return "", fmt.Errorf("kubernetes_version: %w", err)
	}
	var supported []string
	for _, r := range config.SupportedKubernetesVersions() {
		supported = append(supported, r.Minor)
		if r.Minor != minor {
			continue
		}
		tag, ok := clusterAutoscalerByMinor[minor]
		if !ok {
			return "", fmt.Errorf("kubernetes_version %s: minor %s is supported but no Cluster Autoscaler is pinned for it (internal/addons/versions.go)", kubernetesVersion, minor)
		}
		return clusterAutoscalerRep + ":" + tag, nil
	}
	return "", fmt.Errorf("kubernetes_version %s: minor %s is not supported (supported: %s); choose a supported version",
		kubernetesVersion, minor, strings.Join(supported, ", "))
}

// Remote is an upstream release manifest applied as published.
type Remote struct {
	Name string
	URL  string
	// SHA256 of the file; empty when it could not be verified offline (the
	// agent then logs the digest it fetched so it can be pinned).
	SHA256 string
}

// Remotes are the upstream bundles applied before kforge's own manifests.
// cert-manager's release manifest carries its CRDs, which are too large to
// re-type here.
func Remotes() []Remote {
	remotes := []Remote{{
		Name: "cert-manager",
		URL:  "https://github.com/cert-manager/cert-manager/releases/download/" + CertManagerVersion + "/cert-manager.yaml",
	}}
	// The digest comes from the one table (upstream.Downloads), so the
	// agent enforces it the moment make pins fills it in.
	for i, r := range remotes {
		if d, ok := upstream.FindDownload(r.URL); ok {
			remotes[i].SHA256 = strings.TrimPrefix(d.Digest, "sha256:")
		}
	}
	return remotes
}

// CiliumValues are the Helm values kforge installs the vendored Cilium chart
// with: VXLAN tunnelling (no dependence on VPC routes), Kubernetes IPAM so
// pods get addresses from each node's podCIDR carved out of the cluster pod
// CIDR by the controller manager, and kube-proxy replacement (kubeadm skips
// kube-proxy), which needs the API server's address since no Service
// routing exists before Cilium runs. One operator replica runs on the
// control plane (the chart's operator tolerates every taint and prefers
// control-plane nodes); its agents run on every node.
func CiliumValues(c Config) map[string]any {
	return map[string]any{
		"ipam":                 map[string]any{"mode": "kubernetes"},
		"routingMode":          "tunnel",
		"tunnelProtocol":       "vxlan",
		"kubeProxyReplacement": true,
		"k8sServiceHost":       c.APIHost,
		"k8sServicePort":       6443,
		"cluster":              map[string]any{"name": c.ClusterName},
		"operator": map[string]any{
			"replicas":     1,
			"nodeSelector": map[string]any{"node-role.kubernetes.io/control-plane": ""},
		},
	}
}
