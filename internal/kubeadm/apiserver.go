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
	AuditLogDir          = "/var/log/kubernetes/audit"
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
// audit logging and Secrets encryption at rest.
func apiServerHardening() ([]Arg, []HostPathMount) {
	args := []Arg{
		{Name: "audit-policy-file", Value: AuditPolicyPath},
		{Name: "audit-log-path", Value: AuditLogDir + "/audit.log"},
		{Name: "audit-log-maxsize", Value: fmt.Sprint(auditMaxSizeMB)},
		{Name: "audit-log-maxbackup", Value: fmt.Sprint(auditMaxBackups)},
		{Name: "audit-log-maxage", Value: fmt.Sprint(auditMaxAgeDays)},
		{Name: "encryption-provider-config", Value: EncryptionConfigPath},
	}
	mounts := []HostPathMount{
		{Name: "audit-policy", HostPath: AuditPolicyPath, MountPath: AuditPolicyPath, ReadOnly: true, PathType: "File"},
		{Name: "audit-log", HostPath: AuditLogDir, MountPath: AuditLogDir, ReadOnly: false, PathType: "DirectoryOrCreate"},
	}
	return args, mounts
}

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
