// Package kubeadm renders the kubeadm and kubelet configuration files the
// node agent hands to `kubeadm init` and `kubeadm join`.
//
// The structs below mirror only the fields kforge sets, from kubeadm's
// kubeadm.k8s.io/v1beta4 API (InitConfiguration, ClusterConfiguration,
// JoinConfiguration) and kubelet's kubelet.config.k8s.io/v1beta1
// KubeletConfiguration. Importing k8s.io/kubernetes for the real types would
// pull the whole Kubernetes tree into the binary, so the field names and JSON
// tags are copied from those APIs by hand; unset fields are omitted so
// kubeadm applies its own defaults.
package kubeadm

// TypeMeta is the apiVersion/kind header of every document.
type TypeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// Arg is one command-line argument of a component (v1beta4 turned the
// extraArgs maps into ordered lists of name/value pairs).
type Arg struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Taint mirrors core/v1 Taint as kubeadm accepts it in nodeRegistration.
type Taint struct {
	Key    string `json:"key"`
	Value  string `json:"value,omitempty"`
	Effect string `json:"effect"`
}

// NodeRegistrationOptions mirrors kubeadm v1beta4 NodeRegistrationOptions.
type NodeRegistrationOptions struct {
	Name                  string   `json:"name,omitempty"`
	CRISocket             string   `json:"criSocket,omitempty"`
	Taints                []Taint  `json:"taints"`
	KubeletExtraArgs      []Arg    `json:"kubeletExtraArgs,omitempty"`
	IgnorePreflightErrors []string `json:"ignorePreflightErrors,omitempty"`
}

// APIEndpoint mirrors kubeadm v1beta4 APIEndpoint.
type APIEndpoint struct {
	AdvertiseAddress string `json:"advertiseAddress,omitempty"`
	BindPort         int32  `json:"bindPort,omitempty"`
}

// InitConfiguration mirrors kubeadm v1beta4 InitConfiguration.
type InitConfiguration struct {
	TypeMeta `json:",inline"`
	// BootstrapTokens holds one entry with no token: kubeadm generates one
	// for any configuration, valid 24 hours unless told otherwise, and
	// nothing uses it. The agent joins workers with tokens it creates and
	// rotates with `kubeadm token create`, so no token is ever written
	// into a config file.
	BootstrapTokens  []BootstrapToken        `json:"bootstrapTokens"`
	NodeRegistration NodeRegistrationOptions `json:"nodeRegistration"`
	LocalAPIEndpoint APIEndpoint             `json:"localAPIEndpoint"`
	Patches          *Patches                `json:"patches,omitempty"`
}

// BootstrapToken mirrors the fields of kubeadm's bootstrap token (v1) that
// kforge sets; TTL is a Go duration string, like metav1.Duration.
type BootstrapToken struct {
	Description string `json:"description"`
	TTL         string `json:"ttl"`
}

// Patches mirrors kubeadm v1beta4 Patches: a directory of files named
// "target[suffix][+patchtype].extension" (kforge writes KubeletPatchFile).
type Patches struct {
	Directory string `json:"directory,omitempty"`
}

// Networking mirrors kubeadm v1beta4 Networking.
type Networking struct {
	ServiceSubnet string `json:"serviceSubnet"`
	PodSubnet     string `json:"podSubnet"`
	DNSDomain     string `json:"dnsDomain,omitempty"`
}

// APIServer mirrors the parts of kubeadm v1beta4 APIServer kforge sets.
type APIServer struct {
	ExtraArgs    []Arg           `json:"extraArgs,omitempty"`
	ExtraVolumes []HostPathMount `json:"extraVolumes,omitempty"`
	CertSANs     []string        `json:"certSANs,omitempty"`
}

// HostPathMount mirrors kubeadm v1beta4 HostPathMount.
type HostPathMount struct {
	Name      string `json:"name"`
	HostPath  string `json:"hostPath"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly,omitempty"`
	PathType  string `json:"pathType,omitempty"`
}

// ControlPlaneComponent mirrors kubeadm v1beta4 ControlPlaneComponent.
type ControlPlaneComponent struct {
	ExtraArgs []Arg `json:"extraArgs,omitempty"`
}

// LocalEtcd mirrors kubeadm v1beta4 LocalEtcd.
type LocalEtcd struct {
	DataDir   string `json:"dataDir"`
	ExtraArgs []Arg  `json:"extraArgs,omitempty"`
}

// Etcd mirrors kubeadm v1beta4 Etcd (local etcd only).
type Etcd struct {
	Local *LocalEtcd `json:"local,omitempty"`
}

// ClusterConfiguration mirrors kubeadm v1beta4 ClusterConfiguration.
type ClusterConfiguration struct {
	TypeMeta             `json:",inline"`
	ClusterName          string                `json:"clusterName"`
	KubernetesVersion    string                `json:"kubernetesVersion"`
	ControlPlaneEndpoint string                `json:"controlPlaneEndpoint"`
	CertificatesDir      string                `json:"certificatesDir,omitempty"`
	Networking           Networking            `json:"networking"`
	APIServer            APIServer             `json:"apiServer"`
	ControllerManager    ControlPlaneComponent `json:"controllerManager"`
	Scheduler            ControlPlaneComponent `json:"scheduler"`
	Etcd                 Etcd                  `json:"etcd"`
	Proxy                *Proxy                `json:"proxy,omitempty"`
}

// Proxy mirrors kubeadm v1beta4 Proxy: the kube-proxy add-on.
type Proxy struct {
	Disabled bool `json:"disabled,omitempty"`
}

// BootstrapTokenDiscovery mirrors kubeadm v1beta4 BootstrapTokenDiscovery.
type BootstrapTokenDiscovery struct {
	Token             string   `json:"token"`
	APIServerEndpoint string   `json:"apiServerEndpoint"`
	CACertHashes      []string `json:"caCertHashes"`
}

// Discovery mirrors kubeadm v1beta4 Discovery (token discovery only).
type Discovery struct {
	BootstrapToken *BootstrapTokenDiscovery `json:"bootstrapToken"`
}

// JoinConfiguration mirrors kubeadm v1beta4 JoinConfiguration for workers.
type JoinConfiguration struct {
	TypeMeta         `json:",inline"`
	NodeRegistration NodeRegistrationOptions `json:"nodeRegistration"`
	Discovery        Discovery               `json:"discovery"`
	Patches          *Patches                `json:"patches,omitempty"`
	Timeouts         *JoinTimeouts           `json:"timeouts,omitempty"`
}

// JoinTimeouts mirrors the fields of kubeadm v1beta4 Timeouts that a worker
// join uses (durations as Go duration strings, like metav1.Duration).
type JoinTimeouts struct {
	Discovery          string `json:"discovery"`
	TLSBootstrap       string `json:"tlsBootstrap"`
	KubeletHealthCheck string `json:"kubeletHealthCheck"`
	KubernetesAPICall  string `json:"kubernetesAPICall"`
}

// KubeletConfiguration mirrors the fields of kubelet.config.k8s.io/v1beta1
// KubeletConfiguration that kforge sets. kubeadm stores it cluster-wide in
// the kubelet-config ConfigMap, so nothing node-specific goes here (the
// provider ID travels in kubeletExtraArgs instead).
type KubeletConfiguration struct {
	TypeMeta             `json:",inline"`
	CgroupDriver         string                `json:"cgroupDriver"`
	RotateCertificates   bool                  `json:"rotateCertificates"`
	ServerTLSBootstrap   bool                  `json:"serverTLSBootstrap"`
	ReadOnlyPort         int32                 `json:"readOnlyPort"`
	ContainerLogMaxSize  string                `json:"containerLogMaxSize,omitempty"`
	ContainerLogMaxFiles int32                 `json:"containerLogMaxFiles,omitempty"`
	Authentication       KubeletAuthentication `json:"authentication"`
	Authorization        KubeletAuthorization  `json:"authorization"`
	// ShutdownGracePeriod and ShutdownGracePeriodCriticalPods turn on the
	// kubelet's graceful node shutdown (Go duration strings, like
	// metav1.Duration).
	ShutdownGracePeriod             string `json:"shutdownGracePeriod,omitempty"`
	ShutdownGracePeriodCriticalPods string `json:"shutdownGracePeriodCriticalPods,omitempty"`
	// FailCgroupV1 is set (false) only for the lab on a cgroup v1 machine.
	FailCgroupV1 *bool `json:"failCgroupV1,omitempty"`
	// EvictionHard is set only for the lab, whose nodes' disk is the host's
	// (ControlPlane.SharedHostDisk); nodes on AWS keep the kubelet's defaults.
	EvictionHard map[string]string `json:"evictionHard,omitempty"`
	// ImageGCHighThresholdPercent is set (100: no image garbage
	// collection) only for the lab, for the same reason.
	ImageGCHighThresholdPercent *int32 `json:"imageGCHighThresholdPercent,omitempty"`
}

// KubeletAuthentication mirrors kubelet v1beta1 KubeletAuthentication.
type KubeletAuthentication struct {
	Anonymous KubeletAnonymousAuthentication `json:"anonymous"`
	Webhook   KubeletWebhookAuthentication   `json:"webhook"`
}

// KubeletAnonymousAuthentication mirrors kubelet v1beta1.
type KubeletAnonymousAuthentication struct {
	Enabled bool `json:"enabled"`
}

// KubeletWebhookAuthentication mirrors kubelet v1beta1.
type KubeletWebhookAuthentication struct {
	Enabled bool `json:"enabled"`
}

// KubeletAuthorization mirrors kubelet v1beta1 KubeletAuthorization.
type KubeletAuthorization struct {
	Mode string `json:"mode"`
}
