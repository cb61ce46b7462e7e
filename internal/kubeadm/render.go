package kubeadm

import (
	"bytes"
	"fmt"
	"maps"
	"net"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/go-version"
	"sigs.k8s.io/yaml"
)

const (
	kubeadmAPIVersion = "kubeadm.k8s.io/v1beta4"
	kubeletAPIVersion = "kubelet.config.k8s.io/v1beta1"
	// CRISocket is containerd's socket on Amazon Linux 2023.
	CRISocket = "unix:///run/containerd/containerd.sock"
	// APIServerPort is the port of the API server and of the api.<domain> record.
	APIServerPort = 6443
)

// ControlPlane holds what the control-plane configuration is made from.
type ControlPlane struct {
	ClusterName       string
	KubernetesVersion string // MAJOR.MINOR.PATCH, without the leading v
	APIDNSName        string // api.<domain>
	PodCIDR           string
	ServiceCIDR       string
	NodeName          string
	PrivateIP         string
	PublicIP          string // empty when the instance has none
	ProviderID        string // aws:///<az>/<instance-id>
	// Labels are the control plane's own node labels (--node-labels),
	// besides the role label and taint kubeadm gives it.
	Labels map[string]string
	// RestoredEtcd tells kubeadm to accept an etcd data directory restored
	// from a snapshot instead of refusing a non-empty /var/lib/etcd.
	RestoredEtcd bool
	// Resume tells kubeadm that an earlier `kubeadm init` on this host
	// passed its preflight checks and stopped later (the control plane's
	// wait timed out, an upload failed): the files it wrote and the static
	// Pods on their ports are its own, so every preflight check is ignored
	// and init runs its phases again over them.
	Resume bool
	// EtcdQuotaGiB is etcd's backend quota (etcdquota.go); 0 leaves
	// etcd's default. Not bounded here: the agent may raise cluster.json's
	// to hold a restored database.
	EtcdQuotaGiB int
	// AllowCgroupV1 sets the kubelet's failCgroupV1 to false: only for the
	// lab's nodes on a cgroup v1 machine (node.LabSettings), never on AWS,
	// whose Amazon Linux 2023 nodes run cgroup v2.
	AllowCgroupV1 bool
	// SharedHostDisk lowers the kubelet's disk eviction thresholds (see
	// sharedDiskEviction) and turns its image garbage collection off: only
	// for the lab's nodes, whose file system is the host machine's, never
	// on AWS. The kubelet configuration is the
	// cluster's, so the workers that join get it too.
	SharedHostDisk bool
	// PatchesDir is the directory of kubeadm patches (patches.directory)
	// holding this node's KubeletPatchFile; empty for none.
	PatchesDir string
}

// sharedDiskEviction are the lab's kubelet eviction thresholds: the
// kubelet's defaults for memory, and 1% instead of 10–15% for the disk
// signals. A lab node's disk is the whole machine's, filled by everything
// else on it, and the default imagefs threshold (15% free) tainted every
// node with disk pressure and evicted pods on a machine with 12% free.
var sharedDiskEviction = map[string]string{
	"memory.available":   "100Mi",
	"nodefs.available":   "1%",
	"nodefs.inodesFree":  "1%",
	"imagefs.available":  "1%",
	"imagefs.inodesFree": "1%",
}

// Worker holds what a worker's join configuration is made from.
type Worker struct {
	NodeName     string
	ProviderID   string
	APIEndpoint  string // host:port
	Token        string
	CACertHashes []string
	Labels       map[string]string
	Taints       []string // key=value:Effect
	// AllowCgroupV1: the lab on a cgroup v1 machine (see ControlPlane); the
	// kubelet's failCgroupV1 comes from the cluster's kubelet-config.
	AllowCgroupV1 bool
	// PatchesDir: as ControlPlane's, for this worker's kubelet.
	PatchesDir string
}

// The token that `kubeadm init` makes from InitConfiguration.bootstrapTokens
// (kubeadm makes one whatever the configuration says, 24 hours by default).
// Nothing uses it, so it expires a minute after init makes it; the
// controller manager's tokencleaner then deletes it.
const (
	InitTokenDescription = "made by kubeadm init and unused: kforge joins workers with the tokens it rotates"
	InitTokenTTL         = time.Minute
)

// preflightSystemVerification is kubeadm's kernel and cgroup check.
const preflightSystemVerification = "SystemVerification"

var (
	tokenPattern  = regexp.MustCompile(`^[a-z0-9]{6}\.[a-z0-9]{16}$`)
	hashPattern   = regexp.MustCompile(`^sha256:[a-f0-9]{64}$`)
	providerIDPat = regexp.MustCompile(`^aws:///[a-z0-9-]+/i-[a-f0-9]+$`)
)

func (c ControlPlane) validate() error {
	if c.ClusterName == "" {
		return fmt.Errorf("cluster_name is empty")
	}
	if _, err := version.NewSemver(c.KubernetesVersion); err != nil || strings.HasPrefix(c.KubernetesVersion, "v") {
		return fmt.Errorf("kubernetes_version %q is not MAJOR.MINOR.PATCH", c.KubernetesVersion)
	}
	if c.APIDNSName == "" {
		return fmt.Errorf("api_dns_name is empty")
	}
	for field, cidr := range map[string]string{"pod_cidr": c.PodCIDR, "service_cidr": c.ServiceCIDR} {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return fmt.Errorf("%s %q is not a CIDR: %w", field, cidr, err)
		}
	}
	if net.ParseIP(c.PrivateIP) == nil {
		return fmt.Errorf("private IP %q is not an IP address", c.PrivateIP)
	}
	if c.PublicIP != "" && net.ParseIP(c.PublicIP) == nil {
		return fmt.Errorf("public IP %q is not an IP address", c.PublicIP)
	}
	if !providerIDPat.MatchString(c.ProviderID) {
		return fmt.Errorf("provider ID %q is not aws:///<az>/<instance-id>", c.ProviderID)
	}
	// Any positive quota: the agent may raise cluster.json's (checked
	// against kforge's bounds there) to hold a restored database.
	if c.EtcdQuotaGiB < 0 {
		return fmt.Errorf("etcd quota %d GiB is negative", c.EtcdQuotaGiB)
	}
	return nil
}

// RenderControlPlane returns the multi-document YAML for `kubeadm init
// --config`: InitConfiguration, ClusterConfiguration, KubeletConfiguration.
func RenderControlPlane(c ControlPlane) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("control-plane kubeadm config: %w", err)
	}
	var ignore []string
	if c.RestoredEtcd {
		ignore = []string{"DirAvailable--var-lib-etcd"}
	}
	if c.AllowCgroupV1 {
		// kubeadm's system verification refuses cgroup v1 unless skipped
		// as well as allowed in the kubelet configuration.
		ignore = append(ignore, preflightSystemVerification)
	}
	if c.Resume {
		// kubeadm refuses "all" beside any other check's name.
		ignore = []string{"all"}
	}
	kubeletArgs := withNodeLabels([]Arg{{Name: "provider-id", Value: c.ProviderID}, {Name: "node-ip", Value: c.PrivateIP}}, c.Labels)
	initCfg := InitConfiguration{
		TypeMeta:        TypeMeta{APIVersion: kubeadmAPIVersion, Kind: "InitConfiguration"},
		BootstrapTokens: []BootstrapToken{{Description: InitTokenDescription, TTL: InitTokenTTL.String()}},
		NodeRegistration: NodeRegistrationOptions{
			Name:      c.NodeName,
			CRISocket: CRISocket,
			// The control plane keeps kubeadm's default taint; the add-ons
			// meant to run there tolerate it.
			Taints:                []Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: "NoSchedule"}},
			KubeletExtraArgs:      kubeletArgs,
			IgnorePreflightErrors: ignore,
		},
		LocalAPIEndpoint: APIEndpoint{AdvertiseAddress: c.PrivateIP, BindPort: APIServerPort},
		// The node's own kubeReserved (KubeletPatchFile), applied to the
		// kubelet's config.yaml here and not to the kubelet-config
		// ConfigMap, which every node shares.
		Patches: patches(c.PatchesDir),
	}
	sans := []string{c.APIDNSName, c.PrivateIP}
	if c.PublicIP != "" {
		sans = append(sans, c.PublicIP)
	}
	// Audit logging, Secrets encrypted at rest, the Pod Security default
	// and verified kubelets (apiserver.go).
	hardeningArgs, hardeningMounts := apiServerHardening()
	clusterCfg := ClusterConfiguration{
		TypeMeta:             TypeMeta{APIVersion: kubeadmAPIVersion, Kind: "ClusterConfiguration"},
		ClusterName:          c.ClusterName,
		KubernetesVersion:    "v" + c.KubernetesVersion,
		ControlPlaneEndpoint: fmt.Sprintf("%s:%d", c.APIDNSName, APIServerPort),
		CertificatesDir:      "/etc/kubernetes/pki",
		Networking:           Networking{PodSubnet: c.PodCIDR, ServiceSubnet: c.ServiceCIDR, DNSDomain: "cluster.local"},
		APIServer: APIServer{
			CertSANs:     sans,
			ExtraArgs:    append([]Arg{{Name: "profiling", Value: "false"}}, hardeningArgs...),
			ExtraVolumes: hardeningMounts,
		},
		ControllerManager: ControlPlaneComponent{ExtraArgs: []Arg{
			// Cilium's kubernetes IPAM mode hands out the per-node podCIDR
			// the controller manager allocates from the pod CIDR.
			{Name: "allocate-node-cidrs", Value: "true"},
			{Name: "profiling", Value: "false"},
		}},
		Scheduler: ControlPlaneComponent{ExtraArgs: []Arg{{Name: "profiling", Value: "false"}}},
		Etcd:      Etcd{Local: localEtcd(c.EtcdQuotaGiB)},
		// kube-proxy is replaced by Cilium (one component less to pin and
		// patch). Disabled here, in the kubeadm-config ConfigMap, rather
		// than by skipping init's phase: `kubeadm upgrade apply` deploys
		// kube-proxy unless the cluster's configuration disables it,
		// whatever init skipped.
		Proxy: &Proxy{Disabled: true},
	}
	kubelet := kubeletConfig()
	if c.AllowCgroupV1 {
		no := false
		kubelet.FailCgroupV1 = &no
	}
	if c.SharedHostDisk {
		kubelet.EvictionHard = sharedDiskEviction
		// The lab's nodes cannot pull an image offline: the ones imported
		// for a release (an upgrade's among them, unused until kubeadm
		// upgrade apply) must stay, however full the host's disk is.
		noImageGC := int32(100)
		kubelet.ImageGCHighThresholdPercent = &noImageGC
	}
	return marshalDocs(initCfg, clusterCfg, kubelet)
}

func kubeletConfig() KubeletConfiguration {
	return KubeletConfiguration{
		TypeMeta:           TypeMeta{APIVersion: kubeletAPIVersion, Kind: "KubeletConfiguration"},
		CgroupDriver:       "systemd",
		RotateCertificates: true,
		// Serving certificates from the cluster CA through CSRs, approved
		// by the control plane only for known instances (node/csr.go), so
		// metrics-server and the API server can verify kubelets.
		ServerTLSBootstrap:   true,
		ReadOnlyPort:         0,
		ContainerLogMaxSize:  "10Mi",
		ContainerLogMaxFiles: 5,
		Authentication: KubeletAuthentication{
			Anonymous: KubeletAnonymousAuthentication{Enabled: false},
			Webhook:   KubeletWebhookAuthentication{Enabled: true},
		},
		Authorization:                   KubeletAuthorization{Mode: "Webhook"},
		ShutdownGracePeriod:             ShutdownGracePeriod.String(),
		ShutdownGracePeriodCriticalPods: ShutdownGracePeriodCriticalPods.String(),
	}
}

// The kubelet's graceful node shutdown. Off by default (both zero): at a
// reboot (an operator's, an EC2 scheduled maintenance reboot, which the
// drainer only cordons for) or any shutdown the drain did not precede,
// systemd would kill every container at once, with no preStop hook and the
// Node still Ready, so Services and the NLB would keep sending to dead
// pods until the node lifecycle controller's grace ran out. With it, the
// kubelet holds a logind delay lock (raising logind's InhibitDelayMaxSec
// itself), marks the Node not ready and stops ordinary pods in the first
// 30 seconds, then critical ones (system-node-critical and
// system-cluster-critical) in the last 15.
const (
	ShutdownGracePeriod             = 45 * time.Second
	ShutdownGracePeriodCriticalPods = 15 * time.Second
)

// RenderKubelet returns the KubeletConfiguration document alone (the same one
// embedded in the control-plane configuration), for review as a golden file.
func RenderKubelet() ([]byte, error) { return marshalDocs(kubeletConfig()) }

// ParseTaint parses key=value:Effect (value optional).
func ParseTaint(s string) (Taint, error) {
	kv, effect, ok := strings.Cut(s, ":")
	if !ok {
		return Taint{}, fmt.Errorf("taint %q: want key=value:Effect", s)
	}
	switch effect {
	case "NoSchedule", "PreferNoSchedule", "NoExecute":
	default:
		return Taint{}, fmt.Errorf("taint %q: effect must be NoSchedule, PreferNoSchedule or NoExecute", s)
	}
	key, value, _ := strings.Cut(kv, "=")
	if key == "" {
		return Taint{}, fmt.Errorf("taint %q: empty key", s)
	}
	return Taint{Key: key, Value: value, Effect: effect}, nil
}

// Join timeouts, written explicitly (they are kubeadm's defaults) so the
// bootstrap-token grace period can be checked against them: a worker that
// read the join material just before a rotation finishes its join within
// JoinTimeout.
const (
	discoveryTimeout          = 5 * time.Minute
	tlsBootstrapTimeout       = 5 * time.Minute
	kubeletHealthCheckTimeout = 4 * time.Minute
	kubernetesAPICallTimeout  = 1 * time.Minute
)

// JoinTimeout bounds how long `kubeadm join` of a worker may use the
// bootstrap token: the sum of the timeouts of its steps.
const JoinTimeout = discoveryTimeout + tlsBootstrapTimeout + kubeletHealthCheckTimeout + kubernetesAPICallTimeout

// RenderJoin returns the JoinConfiguration document for a worker.
func RenderJoin(w Worker) ([]byte, error) {
	if !tokenPattern.MatchString(w.Token) {
		return nil, fmt.Errorf("join config: bootstrap token does not look like [a-z0-9]{6}.[a-z0-9]{16}")
	}
	if len(w.CACertHashes) == 0 {
		return nil, fmt.Errorf("join config: no CA certificate hash (refusing unsafe discovery)")
	}
	for _, h := range w.CACertHashes {
		if !hashPattern.MatchString(h) {
			return nil, fmt.Errorf("join config: CA certificate hash %q is not sha256:<64 hex>", h)
		}
	}
	if _, _, err := net.SplitHostPort(w.APIEndpoint); err != nil {
		return nil, fmt.Errorf("join config: API endpoint %q: %w", w.APIEndpoint, err)
	}
	if !providerIDPat.MatchString(w.ProviderID) {
		return nil, fmt.Errorf("join config: provider ID %q is not aws:///<az>/<instance-id>", w.ProviderID)
	}
	taints := []Taint{}
	for _, s := range w.Taints {
		t, err := ParseTaint(s)
		if err != nil {
			return nil, fmt.Errorf("join config: %w", err)
		}
		taints = append(taints, t)
	}
	args := withNodeLabels([]Arg{{Name: "provider-id", Value: w.ProviderID}}, w.Labels)
	join := JoinConfiguration{
		TypeMeta: TypeMeta{APIVersion: kubeadmAPIVersion, Kind: "JoinConfiguration"},
		NodeRegistration: NodeRegistrationOptions{
			Name:             w.NodeName,
			CRISocket:        CRISocket,
			Taints:           taints,
			KubeletExtraArgs: args,
		},
		Timeouts: &JoinTimeouts{
			Discovery:          discoveryTimeout.String(),
			TLSBootstrap:       tlsBootstrapTimeout.String(),
			KubeletHealthCheck: kubeletHealthCheckTimeout.String(),
			KubernetesAPICall:  kubernetesAPICallTimeout.String(),
		},
		Patches: patches(w.PatchesDir),
		Discovery: Discovery{BootstrapToken: &BootstrapTokenDiscovery{
			Token:             w.Token,
			APIServerEndpoint: w.APIEndpoint,
			CACertHashes:      w.CACertHashes,
		}},
	}
	if w.AllowCgroupV1 {
		join.NodeRegistration.IgnorePreflightErrors = []string{preflightSystemVerification}
	}
	return marshalDocs(join)
}

// patches names dir as kubeadm's patches directory; nil when empty.
func patches(dir string) *Patches {
	if dir == "" {
		return nil
	}
	return &Patches{Directory: dir}
}

// withNodeLabels adds the kubelet's --node-labels to args when there are
// labels; the control plane and the workers register theirs the same way.
func withNodeLabels(args []Arg, labels map[string]string) []Arg {
	if l := joinLabels(labels); l != "" {
		return append(args, Arg{Name: "node-labels", Value: l})
	}
	return args
}

// joinLabels renders labels sorted, so the output is stable.
func joinLabels(labels map[string]string) string {
	keys := slices.Sorted(maps.Keys(labels))
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+labels[k])
	}
	return strings.Join(parts, ",")
}

func marshalDocs(docs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for i, d := range docs {
		b, err := yaml.Marshal(d)
		if err != nil {
			return nil, fmt.Errorf("marshalling kubeadm document %d: %w", i, err)
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(b)
	}
	return buf.Bytes(), nil
}
