// Package addons renders the Kubernetes manifests the control plane
// applies: Cluster Autoscaler, the AWS EFS CSI driver with its StorageClass,
// metrics-server, the Traefik ingress controller and cert-manager's
// ClusterIssuers. Core kinds are built from k8s.io/api types; the few
// custom kinds kforge emits (ClusterIssuer, APIService) have minimal typed
// structs in this package.
//
// Images are pinned by tag. No digest is pinned: digests could not be
// verified from where this was written, and an invented digest would be
// worse than none. docs/NODES.md says how to add them.
package addons

import (
	"fmt"
	"runtime"
	"strings"

	"github.com/kforge/kforge/internal/config"
)

// Pinned versions.
const (
	CiliumVersion        = "1.18.4"
	CiliumCLIVersion     = "v0.18.9"
	CertManagerVersion   = "v1.19.1"
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
	return []Remote{{
		Name: "cert-manager",
		URL:  "https://github.com/cert-manager/cert-manager/releases/download/" + CertManagerVersion + "/cert-manager.yaml",
	}}
}

// CLI is a downloadable command-line tool.
type CLI struct{ URL string }

// CiliumCLI is the pinned cilium CLI for the architecture this agent runs
// on (the agent is built per node architecture); its release publishes a
// .sha256sum next to each tarball, which the agent checks.
func CiliumCLI() CLI { return CiliumCLIFor(runtime.GOARCH) }

// CiliumCLIFor is the pinned cilium CLI for linux/<arch> (amd64 or arm64;
// the release publishes both).
func CiliumCLIFor(arch string) CLI {
	return CLI{URL: "https://github.com/cilium/cilium-cli/releases/download/" + CiliumCLIVersion + "/cilium-linux-" + arch + ".tar.gz"}
}

// CiliumInstallArgs are the `cilium install` flags: VXLAN tunnelling (no
// dependence on VPC routes), Kubernetes IPAM so pods get addresses from
// each node's podCIDR carved out of the cluster pod CIDR by the controller
// manager, and kube-proxy replacement (kubeadm skips kube-proxy).
func CiliumInstallArgs(c Config) []string {
	return []string{
		"--version", CiliumVersion,
		"--set", "ipam.mode=kubernetes",
		"--set", "routingMode=tunnel",
		"--set", "tunnelProtocol=vxlan",
		"--set", "kubeProxyReplacement=true",
		"--set", "k8sServiceHost=" + c.APIHost,
		"--set", "k8sServicePort=6443",
		"--set", "operator.replicas=1",
	}
}
