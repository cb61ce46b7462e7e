package kubeadm

import (
	"bytes"
	"encoding/base64"
	"slices"
	"testing"

	apiserverv1 "k8s.io/apiserver/pkg/apis/apiserver/v1"
	auditv1 "k8s.io/apiserver/pkg/apis/audit/v1"
	"sigs.k8s.io/yaml"
)

// The audit policy decodes strictly into the API server's own type, never
// logs the bodies of Secrets, ConfigMaps, tokens or CSRs, and records every
// other write with its request.
func TestAuditPolicy(t *testing.T) {
	out, err := RenderAuditPolicy()
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "audit-policy.yaml", out)
	var p auditv1.Policy
	if err := yaml.UnmarshalStrict(out, &p); err != nil {
		t.Fatalf("audit policy does not decode as audit.k8s.io/v1 Policy: %v", err)
	}
	if p.APIVersion != "audit.k8s.io/v1" || p.Kind != "Policy" {
		t.Fatalf("header %s %s", p.APIVersion, p.Kind)
	}
	// level returns the level of the first rule matching a request, as the
	// API server evaluates them.
	level := func(group, resource, verb string) auditv1.Level {
		for _, r := range p.Rules {
			if len(r.NonResourceURLs) > 0 || len(r.Users) > 0 || len(r.UserGroups) > 0 {
				continue
			}
			if len(r.Verbs) > 0 && !slices.Contains(r.Verbs, verb) {
				continue
			}
			if len(r.Resources) > 0 && !slices.ContainsFunc(r.Resources, func(g auditv1.GroupResources) bool {
				return g.Group == group && slices.Contains(g.Resources, resource)
			}) {
				continue
			}
			return r.Level
		}
		t.Fatalf("no rule matches %s/%s %s", group, resource, verb)
		return ""
	}
	for _, c := range []struct {
		group, resource, verb string
		want                  auditv1.Level
	}{
		{"", "secrets", "create", auditv1.LevelMetadata},
		{"", "secrets", "get", auditv1.LevelMetadata},
		{"", "configmaps", "update", auditv1.LevelMetadata},
		{"", "serviceaccounts/token", "create", auditv1.LevelMetadata},
		{"certificates.k8s.io", "certificatesigningrequests", "create", auditv1.LevelMetadata},
		{"rbac.authorization.k8s.io", "clusterrolebindings", "create", auditv1.LevelRequest},
		{"", "pods/exec", "create", auditv1.LevelRequest},
		{"apps", "deployments", "delete", auditv1.LevelRequest},
		{"", "pods", "list", auditv1.LevelMetadata},
		{"", "events", "create", auditv1.LevelNone},
	} {
		if got := level(c.group, c.resource, c.verb); got != c.want {
			t.Errorf("%s %s/%s: level %s, want %s", c.verb, c.group, c.resource, got, c.want)
		}
	}
	for _, r := range p.Rules {
		if r.Level == auditv1.LevelRequestResponse {
			t.Errorf("a RequestResponse rule would log response bodies (Secrets in list responses): %+v", r)
		}
	}
}

// The EncryptionConfiguration decodes strictly into the API server's type,
// writes Secrets with secretbox under the given 32-byte key and can still
// read Secrets stored before encryption (identity last).
func TestEncryptionConfig(t *testing.T) {
	key := bytes.Repeat([]byte{7}, EncryptionKeyBytes)
	out, err := RenderEncryptionConfig("key1", key)
	if err != nil {
		t.Fatal(err)
	}
	var c apiserverv1.EncryptionConfiguration
	if err := yaml.UnmarshalStrict(out, &c); err != nil {
		t.Fatalf("does not decode as apiserver.config.k8s.io/v1 EncryptionConfiguration: %v", err)
	}
	if len(c.Resources) != 1 || !slices.Equal(c.Resources[0].Resources, []string{"secrets"}) {
		t.Fatalf("resources %+v, want secrets", c.Resources)
	}
	p := c.Resources[0].Providers
	if len(p) != 2 || p[0].Secretbox == nil || p[1].Identity == nil {
		t.Fatalf("providers %+v, want secretbox then identity", p)
	}
	got, err := base64.StdEncoding.DecodeString(p[0].Secretbox.Keys[0].Secret)
	if err != nil || !bytes.Equal(got, key) || p[0].Secretbox.Keys[0].Name != "key1" {
		t.Errorf("secretbox key %q (%v)", p[0].Secretbox.Keys[0].Secret, err)
	}
	if _, err := RenderEncryptionConfig("key1", key[:16]); err == nil {
		t.Error("a 16-byte key was accepted; secretbox needs 32")
	}
}

// The API server gets the audit and encryption flags and can reach the
// policy and the log directory through its mounts (the encryption config
// is under the PKI directory kubeadm already mounts).
func TestAPIServerAuditAndEncryptionFlags(t *testing.T) {
	out, err := RenderControlPlane(controlPlane())
	if err != nil {
		t.Fatal(err)
	}
	docs := bytes.Split(out, []byte("---\n"))
	var cc ClusterConfiguration
	if err := yaml.Unmarshal(docs[1], &cc); err != nil {
		t.Fatal(err)
	}
	args := map[string]string{}
	for _, a := range cc.APIServer.ExtraArgs {
		args[a.Name] = a.Value
	}
	for name, want := range map[string]string{
		"audit-policy-file":             AuditPolicyPath,
		"audit-log-path":                "/var/log/kubernetes/audit/audit.log",
		"audit-log-maxsize":             "100",
		"audit-log-maxbackup":           "5",
		"audit-log-maxage":              "30",
		"encryption-provider-config":    EncryptionConfigPath,
		"admission-control-config-file": AdmissionConfigPath,
		"kubelet-certificate-authority": "/etc/kubernetes/pki/ca.crt",
	} {
		if args[name] != want {
			t.Errorf("--%s=%q, want %q", name, args[name], want)
		}
	}
	mounted := map[string]bool{}
	for _, v := range cc.APIServer.ExtraVolumes {
		mounted[v.MountPath] = true
		if v.HostPath != v.MountPath {
			t.Errorf("volume %s mounts %s at %s", v.Name, v.HostPath, v.MountPath)
		}
	}
	if !mounted[AuditPolicyPath] || !mounted[AuditLogDir] || !mounted[AdmissionConfigPath] {
		t.Errorf("mounts %v lack the audit policy, log directory or admission configuration", mounted)
	}
	schedulerArgs := map[string]string{}
	for _, a := range cc.Scheduler.ExtraArgs {
		schedulerArgs[a.Name] = a.Value
	}
	if schedulerArgs["profiling"] != "false" {
		t.Errorf("scheduler args %v: want profiling=false, as the API server and controller manager", schedulerArgs)
	}
	if cc.CertificatesDir != "/etc/kubernetes/pki" || EncryptionConfigPath != cc.CertificatesDir+"/encryption-config.yaml" {
		t.Errorf("the encryption config must sit in the mounted PKI directory %s", cc.CertificatesDir)
	}
}

// The admission configuration decodes strictly into the API server's own
// AdmissionConfiguration, and its PodSecurity plugin makes baseline the
// enforced default with kube-system exempt (conformance check 14 starts a
// real kube-apiserver on it and has a privileged pod refused).
func TestAdmissionConfig(t *testing.T) {
	out, err := RenderAdmissionConfig()
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "admission-config.yaml", out)
	var ac apiserverv1.AdmissionConfiguration
	if err := yaml.UnmarshalStrict(out, &ac); err != nil {
		t.Fatalf("admission configuration does not decode as apiserver.config.k8s.io/v1: %v", err)
	}
	if ac.APIVersion != "apiserver.config.k8s.io/v1" || len(ac.Plugins) != 1 || ac.Plugins[0].Name != "PodSecurity" || ac.Plugins[0].Configuration == nil {
		t.Fatalf("admission configuration %+v: want the PodSecurity plugin alone", ac)
	}
	var ps PodSecurityConfiguration
	if err := yaml.UnmarshalStrict(ac.Plugins[0].Configuration.Raw, &ps); err != nil {
		t.Fatal(err)
	}
	if ps.APIVersion != "pod-security.admission.config.k8s.io/v1" || ps.Defaults.Enforce != "baseline" || ps.Defaults.Warn != "restricted" || !slices.Equal(ps.Exemptions.Namespaces, []string{"kube-system"}) {
		t.Errorf("pod security %+v: want baseline enforced, restricted warned, kube-system alone exempt", ps)
	}
}
