package kubeadm

import (
	"encoding/base64"
	"fmt"
)

// Files the API server reads besides the PKI, and where its audit log goes.
const (
	// EncryptionConfigPath lives in the PKI directory: the API server
	// already mounts it (read-only), and the agent backs it up and restores
	// it with the CA, so a replacement control plane can read the Secrets in
	// the restored etcd.
	EncryptionConfigPath = "/etc/kubernetes/pki/encryption-config.yaml"
	AuditPolicyPath      = "/etc/kubernetes/audit/policy.yaml"
	// AdmissionConfigPath holds the Pod Security admission defaults.
	AdmissionConfigPath = "/etc/kubernetes/admission/config.yaml"
	// kubeletCAPath is the cluster CA, which signs the kubelets' serving
	// certificates (the agent approves them for known instances only).
	kubeletCAPath = "/etc/kubernetes/pki/ca.crt"
	AuditLogDir   = "/var/log/kubernetes/audit"
	// EncryptionKeyBytes is the secretbox key size.
	EncryptionKeyBytes = 32
)

// Audit log rotation by the API server itself: at most auditMaxBackups
// files of auditMaxSizeMB each, none older than auditMaxAgeDays.
const (
	auditMaxSizeMB  = 100
	auditMaxBackups = 5
	auditMaxAgeDays = 30
)

// apiServerHardening returns the API server arguments and host mounts for
// audit logging, Secrets encryption at rest, the Pod Security admission
// defaults, and verified kubelet serving certificates: without
// kubelet-certificate-authority the API server trusts whatever answers on
// a node's 10250 with exec, attach, logs and port-forward sessions.
func apiServerHardening() ([]Arg, []HostPathMount) {
	args := []Arg{
		{Name: "audit-policy-file", Value: AuditPolicyPath},
		{Name: "audit-log-path", Value: AuditLogDir + "/audit.log"},
		{Name: "audit-log-maxsize", Value: fmt.Sprint(auditMaxSizeMB)},
		{Name: "audit-log-maxbackup", Value: fmt.Sprint(auditMaxBackups)},
		{Name: "audit-log-maxage", Value: fmt.Sprint(auditMaxAgeDays)},
		{Name: "encryption-provider-config", Value: EncryptionConfigPath},
		{Name: "admission-control-config-file", Value: AdmissionConfigPath},
		{Name: "kubelet-certificate-authority", Value: kubeletCAPath},
	}
	mounts := []HostPathMount{
		{Name: "audit-policy", HostPath: AuditPolicyPath, MountPath: AuditPolicyPath, ReadOnly: true, PathType: "File"},
		{Name: "admission-config", HostPath: AdmissionConfigPath, MountPath: AdmissionConfigPath, ReadOnly: true, PathType: "File"},
		{Name: "audit-log", HostPath: AuditLogDir, MountPath: AuditLogDir, ReadOnly: false, PathType: "DirectoryOrCreate"},
	}
	return args, mounts
}

// AdmissionConfiguration mirrors apiserver.config.k8s.io/v1
// AdmissionConfiguration with the PodSecurity plugin's configuration.
type AdmissionConfiguration struct {
	TypeMeta `json:",inline"`
	Plugins  []AdmissionPlugin `json:"plugins"`
}

// AdmissionPlugin mirrors apiserver.config.k8s.io/v1 AdmissionPluginConfiguration.
type AdmissionPlugin struct {
	Name          string                   `json:"name"`
	Configuration PodSecurityConfiguration `json:"configuration"`
}

// PodSecurityConfiguration mirrors pod-security.admission.config.k8s.io/v1
// PodSecurityConfiguration.
type PodSecurityConfiguration struct {
	TypeMeta   `json:",inline"`
	Defaults   PodSecurityDefaults   `json:"defaults"`
	Exemptions PodSecurityExemptions `json:"exemptions"`
}

// PodSecurityDefaults mirrors pod-security.admission.config.k8s.io/v1 PodSecurityDefaults.
type PodSecurityDefaults struct {
	Enforce        string `json:"enforce"`
	EnforceVersion string `json:"enforce-version"`
	Audit          string `json:"audit"`
	AuditVersion   string `json:"audit-version"`
	Warn           string `json:"warn"`
	WarnVersion    string `json:"warn-version"`
}

// PodSecurityExemptions mirrors pod-security.admission.config.k8s.io/v1 PodSecurityExemptions.
type PodSecurityExemptions struct {
	Usernames      []string `json:"usernames"`
	RuntimeClasses []string `json:"runtimeClasses"`
	Namespaces     []string `json:"namespaces"`
}

// admissionConfig makes Pod Security's baseline level the default of every
// namespace without its own label (the built-in default is privileged):
// without it anyone who may create a pod anywhere may create a privileged,
// host-network pod with the host's root mounted and a toleration for the
// control plane, and so read the CA key and take the instance role.
// kube-system is exempt (Cilium, the EFS CSI node plugin and kube-proxy
// style components need privileges there); restricted is audited and
// warned about, so a namespace can be tightened with evidence. A namespace
// that needs more is labelled pod-security.kubernetes.io/enforce by an
// administrator.
func admissionConfig() AdmissionConfiguration {
	return AdmissionConfiguration{
		TypeMeta: TypeMeta{APIVersion: "apiserver.config.k8s.io/v1", Kind: "AdmissionConfiguration"},
		Plugins: []AdmissionPlugin{{
			Name: "PodSecurity",
			Configuration: PodSecurityConfiguration{
				TypeMeta: TypeMeta{APIVersion: "pod-security.admission.config.k8s.io/v1", Kind: "PodSecurityConfiguration"},
				Defaults: PodSecurityDefaults{
					Enforce: "baseline", EnforceVersion: "latest",
					Audit: "restricted", AuditVersion: "latest",
					Warn: "restricted", WarnVersion: "latest",
				},
				Exemptions: PodSecurityExemptions{Usernames: []string{}, RuntimeClasses: []string{}, Namespaces: []string{"kube-system"}},
			},
		}},
	}
}

// RenderAdmissionConfig returns the API server's admission configuration.
func RenderAdmissionConfig() ([]byte, error) { return marshalDocs(admissionConfig()) }

// AuditPolicy mirrors audit.k8s.io/v1 Policy (the fields kforge sets).
type AuditPolicy struct {
	TypeMeta   `json:",inline"`
	OmitStages []string          `json:"omitStages,omitempty"`
	Rules      []AuditPolicyRule `json:"rules"`
}

// AuditPolicyRule mirrors audit.k8s.io/v1 PolicyRule.
type AuditPolicyRule struct {
	Level           string       `json:"level"`
	Users           []string     `json:"users,omitempty"`
	UserGroups      []string     `json:"userGroups,omitempty"`
	Verbs           []string     `json:"verbs,omitempty"`
	Resources       []AuditGroup `json:"resources,omitempty"`
	NonResourceURLs []string     `json:"nonResourceURLs,omitempty"`
}

// AuditGroup mirrors audit.k8s.io/v1 GroupResources.
type AuditGroup struct {
	Group     string   `json:"group"`
	Resources []string `json:"resources,omitempty"`
}

// auditPolicy records who did what without ever logging a Secret, a token
// or a ConfigMap's content: the first matching rule wins.
func auditPolicy() AuditPolicy {
	writes := []string{"create", "update", "patch", "delete", "deletecollection"}
	return AuditPolicy{
		TypeMeta:   TypeMeta{APIVersion: "audit.k8s.io/v1", Kind: "Policy"},
		OmitStages: []string{"RequestReceived"},
		Rules: []AuditPolicyRule{
			// Probes and discovery: high volume, no security value.
			{Level: "None", NonResourceURLs: []string{"/healthz*", "/livez*", "/readyz*", "/version", "/metrics", "/openapi*", "/api", "/apis"}},
			// Events and lease renewals are written constantly by the system.
			{Level: "None", Resources: []AuditGroup{{Group: "", Resources: []string{"events"}}, {Group: "events.k8s.io", Resources: []string{"events"}}}},
			{Level: "None", Verbs: []string{"get", "update", "watch", "list"}, Resources: []AuditGroup{{Group: "coordination.k8s.io", Resources: []string{"leases"}}}},
			// Bodies of these hold secrets or credentials: metadata only.
			{Level: "Metadata", Resources: []AuditGroup{
				{Group: "", Resources: []string{"secrets", "configmaps", "serviceaccounts/token"}},
				{Group: "authentication.k8s.io", Resources: []string{"tokenreviews"}},
				{Group: "certificates.k8s.io", Resources: []string{"certificatesigningrequests"}},
			}},
			// Every other change with its request body: who changed what.
			{Level: "Request", Verbs: writes},
			// Reads (including exec, attach, port-forward, proxy): who and what.
			{Level: "Metadata"},
		},
	}
}

// RenderAuditPolicy returns the API server's audit policy file.
func RenderAuditPolicy() ([]byte, error) { return marshalDocs(auditPolicy()) }

// EncryptionConfiguration mirrors apiserver.config.k8s.io/v1
// EncryptionConfiguration (the fields kforge sets).
type EncryptionConfiguration struct {
	TypeMeta  `json:",inline"`
	Resources []ResourceConfiguration `json:"resources"`
}

// ResourceConfiguration mirrors apiserver.config.k8s.io/v1 ResourceConfiguration.
type ResourceConfiguration struct {
	Resources []string         `json:"resources"`
	Providers []ProviderConfig `json:"providers"`
}

// ProviderConfig mirrors apiserver.config.k8s.io/v1 ProviderConfiguration
// for the two providers kforge uses.
type ProviderConfig struct {
	Secretbox *KeysConfig     `json:"secretbox,omitempty"`
	Identity  *IdentityConfig `json:"identity,omitempty"`
}

// KeysConfig mirrors apiserver.config.k8s.io/v1 SecretboxConfiguration.
type KeysConfig struct {
	Keys []Key `json:"keys"`
}

// Key mirrors apiserver.config.k8s.io/v1 Key.
type Key struct {
	Name   string `json:"name"`
	Secret string `json:"secret"`
}

// IdentityConfig mirrors apiserver.config.k8s.io/v1 IdentityConfiguration.
type IdentityConfig struct{}

// RenderEncryptionConfig returns an EncryptionConfiguration that writes
// Secrets with secretbox (XSalsa20-Poly1305) under key and still reads
// Secrets stored before encryption was turned on (identity).
func RenderEncryptionConfig(keyName string, key []byte) ([]byte, error) {
	if len(key) != EncryptionKeyBytes {
		return nil, fmt.Errorf("encryption key: %d bytes, want %d", len(key), EncryptionKeyBytes)
	}
	if keyName == "" {
		return nil, fmt.Errorf("encryption key: empty name")
	}
	return marshalDocs(EncryptionConfiguration{
		TypeMeta: TypeMeta{APIVersion: "apiserver.config.k8s.io/v1", Kind: "EncryptionConfiguration"},
		Resources: []ResourceConfiguration{{
			Resources: []string{"secrets"},
			Providers: []ProviderConfig{
				{Secretbox: &KeysConfig{Keys: []Key{{Name: keyName, Secret: base64.StdEncoding.EncodeToString(key)}}}},
				{Identity: &IdentityConfig{}},
			},
		}},
	})
}
