package kubeadm

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/testutil/golden"
	"sigs.k8s.io/yaml"
)

func assertGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Assert(t, filepath.Join("testdata", name), got)
}

func controlPlane() ControlPlane {
	return ControlPlane{
		ClusterName: "demo", KubernetesVersion: "1.36.6", APIDNSName: "api.dev.example.com",
		PodCIDR: "10.244.0.0/16", ServiceCIDR: "10.96.0.0/12", NodeName: "ip-10-0-1-10.eu-west-1.compute.internal",
		PrivateIP: "10.0.1.10", PublicIP: "203.0.113.7", ProviderID: "aws:///eu-west-1a/i-0123456789abcdef0",
		Labels:       map[string]string{"node.kubernetes.io/instance-type": "t3.medium"},
		PatchesDir:   PatchesDir,
		EtcdQuotaGiB: DefaultEtcdQuotaGiB,
	}
}

// strictDocs decodes every document into the mirrored type with unknown
// fields rejected, so a misspelt tag in the structs fails here.
func strictDocs(t *testing.T, out []byte) {
	t.Helper()
	for _, doc := range strings.Split(string(out), "---\n") {
		var meta TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatal(err)
		}
		var target any
		switch meta.Kind {
		case "InitConfiguration":
			target = &InitConfiguration{}
		case "ClusterConfiguration":
			target = &ClusterConfiguration{}
		case "JoinConfiguration":
			target = &JoinConfiguration{}
		case "KubeletConfiguration":
			target = &KubeletConfiguration{}
		default:
			t.Fatalf("unexpected kind %q", meta.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), target); err != nil {
			t.Errorf("%s: %v", meta.Kind, err)
		}
	}
}

func TestRenderGolden(t *testing.T) {
	restored := controlPlane()
	restored.RestoredEtcd = true
	restored.PublicIP = ""
	restored.EtcdQuotaGiB = MaxEtcdQuotaGiB
	worker := Worker{
		NodeName: "ip-10-0-2-20.eu-west-1.compute.internal", ProviderID: "aws:///eu-west-1b/i-0fedcba9876543210",
		APIEndpoint: "api.dev.example.com:6443", Token: "abcdef.0123456789abcdef",
		CACertHashes: []string{"sha256:" + strings.Repeat("ab", 32)},
		Labels:       map[string]string{"kforge.io/pool": "general", "node.kubernetes.io/instance-type": "m7g.large", "topology.kubernetes.io/zone": "eu-west-1b"},
		Taints:       []string{"dedicated=gpu:NoSchedule"},
		PatchesDir:   PatchesDir,
	}
	cases := []struct {
		name   string
		render func() ([]byte, error)
	}{
		{"init.yaml", func() ([]byte, error) { return RenderControlPlane(controlPlane()) }},
		{"init-restored.yaml", func() ([]byte, error) { return RenderControlPlane(restored) }},
		{"join.yaml", func() ([]byte, error) { return RenderJoin(worker) }},
		{"kubelet.yaml", RenderKubelet},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, err := tc.render()
			if err != nil {
				t.Fatal(err)
			}
			strictDocs(t, out)
			assertGolden(t, tc.name, out)
		})
	}
}

func TestRenderRejectsBadInput(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*ControlPlane)
		field string
	}{
		{"version with v", func(c *ControlPlane) { c.KubernetesVersion = "v1.36.0" }, "kubernetes_version"},
		{"pod cidr", func(c *ControlPlane) { c.PodCIDR = "10.244.0.0" }, "pod_cidr"},
		{"provider id", func(c *ControlPlane) { c.ProviderID = "i-123" }, "provider ID"},
		{"private ip", func(c *ControlPlane) { c.PrivateIP = "" }, "private IP"},
		{"negative etcd quota", func(c *ControlPlane) { c.EtcdQuotaGiB = -1 }, "etcd quota -1 GiB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := controlPlane()
			tc.edit(&c)
			_, err := RenderControlPlane(c)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("want error naming %q, got %v", tc.field, err)
			}
		})
	}
	w := Worker{Token: "short", APIEndpoint: "api:6443", CACertHashes: []string{"sha256:x"}, ProviderID: "aws:///a/i-1"}
	if _, err := RenderJoin(w); err == nil || !strings.Contains(err.Error(), "token") {
		t.Fatalf("bad token accepted: %v", err)
	}
	if _, err := ParseTaint("a=b:Sometimes"); err == nil {
		t.Fatal("bad taint effect accepted")
	}
}

// The control plane's own labels reach its kubelet as --node-labels,
// sorted; without labels there is no empty flag.
func TestControlPlaneNodeLabels(t *testing.T) {
	kubeletArgs := func(c ControlPlane) []Arg {
		t.Helper()
		out, err := RenderControlPlane(c)
		if err != nil {
			t.Fatal(err)
		}
		var init InitConfiguration
		if err := yaml.Unmarshal([]byte(strings.Split(string(out), "---\n")[0]), &init); err != nil {
			t.Fatal(err)
		}
		return init.NodeRegistration.KubeletExtraArgs
	}
	c := controlPlane()
	c.Labels = map[string]string{"node.kubernetes.io/instance-type": "m7i.large", "example.com/team": "infra"}
	want := Arg{Name: "node-labels", Value: "example.com/team=infra,node.kubernetes.io/instance-type=m7i.large"}
	if args := kubeletArgs(c); !slices.Contains(args, want) {
		t.Errorf("kubeletExtraArgs %v lack %v", args, want)
	}
	c.Labels = nil
	for _, a := range kubeletArgs(c) {
		if a.Name == "node-labels" {
			t.Errorf("a control plane without labels has node-labels %q", a.Value)
		}
	}
}

// An init run again over an earlier one that stopped after its preflight
// ignores every check, and names no other (kubeadm refuses "all" beside
// one), whatever else the node needs ignored.
func TestResumedInitIgnoresEveryPreflightCheck(t *testing.T) {
	cp := controlPlane()
	cp.Resume, cp.RestoredEtcd, cp.AllowCgroupV1 = true, true, true
	out, err := RenderControlPlane(cp)
	if err != nil {
		t.Fatal(err)
	}
	var init InitConfiguration
	if err := yaml.Unmarshal([]byte(strings.Split(string(out), "\n---\n")[0]), &init); err != nil {
		t.Fatal(err)
	}
	if got := init.NodeRegistration.IgnorePreflightErrors; !slices.Equal(got, []string{"all"}) {
		t.Errorf("ignorePreflightErrors = %q, want [all]", got)
	}
}
