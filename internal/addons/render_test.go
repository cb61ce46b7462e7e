package addons

import (
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/testutil/golden"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	storagev1 "k8s.io/api/storage/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

func testConfig() Config {
	return Config{
		ClusterName: "demo", KubernetesVersion: "1.36.6", Region: "eu-west-1", APIHost: "api.dev.example.com",
		Domain:  "dev.example.com",
		PodCIDR: "10.244.0.0/16", EFSID: "fs-0123456789abcdef0", ACMEEmail: "ops@example.com",
		HTTPNodePort: 30080, HTTPSNodePort: 30443,
	}
}

func assertGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	golden.Assert(t, filepath.Join("testdata", name), got)
}

// podSpecs returns the pod templates of the Deployments and DaemonSets
// among decoded objects, by "Kind/name".
func podSpecs(objs map[string]any) map[string]corev1.PodSpec {
	out := map[string]corev1.PodSpec{}
	for key, obj := range objs {
		switch o := obj.(type) {
		case *appsv1.Deployment:
			out[key] = o.Spec.Template.Spec
		case *appsv1.DaemonSet:
			out[key] = o.Spec.Template.Spec
		}
	}
	return out
}

// decodeStrict decodes every document of a stream into its typed kind with
// unknown fields rejected and returns the objects by "Kind/name".
func decodeStrict(t *testing.T, stream []byte) map[string]any {
	t.Helper()
	out := map[string]any{}
	for i, doc := range strings.Split(string(stream), "\n---\n") {
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &tm); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		var obj any
		switch tm.APIVersion + "/" + tm.Kind {
		case "v1/Namespace":
			obj = &corev1.Namespace{}
		case "v1/ServiceAccount":
			obj = &corev1.ServiceAccount{}
		case "v1/Service":
			obj = &corev1.Service{}
		case "apps/v1/Deployment":
			obj = &appsv1.Deployment{}
		case "apps/v1/DaemonSet":
			obj = &appsv1.DaemonSet{}
		case "rbac.authorization.k8s.io/v1/ClusterRole":
			obj = &rbacv1.ClusterRole{}
		case "rbac.authorization.k8s.io/v1/ClusterRoleBinding":
			obj = &rbacv1.ClusterRoleBinding{}
		case "rbac.authorization.k8s.io/v1/Role":
			obj = &rbacv1.Role{}
		case "rbac.authorization.k8s.io/v1/RoleBinding":
			obj = &rbacv1.RoleBinding{}
		case "storage.k8s.io/v1/CSIDriver":
			obj = &storagev1.CSIDriver{}
		case "storage.k8s.io/v1/StorageClass":
			obj = &storagev1.StorageClass{}
		case "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy":
			obj = &admissionregistrationv1.ValidatingAdmissionPolicy{}
		case "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding":
			obj = &admissionregistrationv1.ValidatingAdmissionPolicyBinding{}
		case "policy/v1/PodDisruptionBudget":
			obj = &policyv1.PodDisruptionBudget{}
		case "networking.k8s.io/v1/IngressClass":
			obj = &networkingv1.IngressClass{}
		case "apiregistration.k8s.io/v1/APIService":
			obj = &APIService{}
		case "cert-manager.io/v1/ClusterIssuer":
			obj = &ClusterIssuer{}
		case "cilium.io/v2/CiliumClusterwideNetworkPolicy":
			obj = &CiliumClusterwideNetworkPolicy{}
		default:
			t.Fatalf("document %d: unexpected %s %s", i, tm.APIVersion, tm.Kind)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("document %d (%s): strict decode: %v", i, tm.Kind, err)
		}
		var m struct {
			Metadata metav1.ObjectMeta `json:"metadata"`
		}
		_ = yaml.Unmarshal([]byte(doc), &m)
		key := tm.Kind + "/" + m.Metadata.Name
		if _, dup := out[key]; dup {
			t.Fatalf("duplicate object %s", key)
		}
		out[key] = obj
	}
	return out
}

func TestStrictDecoderRejectsUnknownFields(t *testing.T) {
	var svc corev1.Service
	err := yaml.UnmarshalStrict([]byte("apiVersion: v1\nkind: Service\nspec:\n  externalTrafficPolcy: Local\n"), &svc)
	if err == nil {
		t.Fatal("a misspelt field was accepted; strict decoding proves nothing")
	}
}

func TestRenderGoldenAndContent(t *testing.T) {
	c := testConfig()
	manifests, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	issuers, err := RenderIssuers(c)
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "addons.yaml", manifests)
	assertGolden(t, "issuers.yaml", issuers)
	objs := decodeStrict(t, manifests)

	ca := objs["Deployment/cluster-autoscaler"].(*appsv1.Deployment)
	caPod := ca.Spec.Template.Spec
	if caPod.Containers[0].Image != "registry.k8s.io/autoscaling/cluster-autoscaler:v1.36.0" {
		t.Errorf("autoscaler image %s does not match Kubernetes 1.36", caPod.Containers[0].Image)
	}
	for _, flag := range []string{
		"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/demo",
		"--balance-similar-node-groups=true", "--scale-down-unneeded-time=10m",
	} {
		if !slices.Contains(caPod.Containers[0].Command, flag) {
			t.Errorf("autoscaler lacks %s", flag)
		}
	}
	if _, ok := caPod.NodeSelector["node-role.kubernetes.io/control-plane"]; !ok || len(caPod.Tolerations) == 0 {
		t.Error("autoscaler is not pinned to the control plane with a toleration")
	}

	svc := objs["Service/traefik"].(*corev1.Service)
	if svc.Spec.Type != corev1.ServiceTypeNodePort || svc.Spec.ExternalTrafficPolicy != corev1.ServiceExternalTrafficPolicyLocal {
		t.Errorf("traefik service: type %s policy %s", svc.Spec.Type, svc.Spec.ExternalTrafficPolicy)
	}
	ports := map[string]int32{}
	for _, p := range svc.Spec.Ports {
		ports[p.Name] = p.NodePort
	}
	if ports["web"] != 30080 || ports["websecure"] != 30443 {
		t.Errorf("node ports %v", ports)
	}
	args := objs["DaemonSet/traefik"].(*appsv1.DaemonSet).Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--entryPoints.web.http.redirections.entryPoint.scheme=https") {
		t.Error("traefik does not redirect HTTP to HTTPS")
	}

	sc := objs["StorageClass/efs-sc"].(*storagev1.StorageClass)
	if sc.Provisioner != "efs.csi.aws.com" || sc.Parameters["provisioningMode"] != "efs-ap" || sc.Parameters["fileSystemId"] != c.EFSID {
		t.Errorf("efs-sc: %s %v", sc.Provisioner, sc.Parameters)
	}
	// The file system's policy refuses NFS without TLS (storage module): the
	// driver mounts with TLS unless encryptInTransit is "false".
	if v, ok := sc.Parameters["encryptInTransit"]; ok && v != "true" {
		t.Errorf("efs-sc sets encryptInTransit %q: its volumes could not mount (the file system refuses NFS without TLS)", v)
	}
	for _, key := range []string{"CSIDriver/efs.csi.aws.com", "DaemonSet/efs-csi-node", "Deployment/efs-csi-controller", "Deployment/metrics-server", "APIService/v1beta1.metrics.k8s.io", "IngressClass/traefik"} {
		if objs[key] == nil {
			t.Errorf("missing %s", key)
		}
	}

	iss := decodeStrict(t, issuers)
	for name, server := range map[string]string{"letsencrypt-staging": LetsEncryptStaging, "letsencrypt-prod": LetsEncryptProduction} {
		ci, ok := iss["ClusterIssuer/"+name].(*ClusterIssuer)
		if !ok {
			t.Fatalf("missing ClusterIssuer %s", name)
		}
		ing := ci.Spec.ACME.Solvers[0].HTTP01.Ingress
		if ci.Spec.ACME.Email != c.ACMEEmail || ci.Spec.ACME.Server != server || *ing.IngressClassName != IngressClass {
			t.Errorf("%s: %+v", name, ci.Spec.ACME)
		}
		if ing.ServiceType != "ClusterIP" {
			t.Errorf("%s: the solver's Service is %q, want ClusterIP (no node port per challenge)", name, ing.ServiceType)
		}
		if ing.IngressTemplate.Metadata.Annotations["traefik.ingress.kubernetes.io/router.priority"] <= "100000" {
			t.Errorf("%s: ACME solver does not outrank the HTTPS redirect", name)
		}
	}
}

func TestRenderRejectsBadConfig(t *testing.T) {
	cases := []struct {
		name  string
		edit  func(*Config)
		field string
	}{
		{"efs id", func(c *Config) { c.EFSID = "" }, "efs_id"},
		{"email", func(c *Config) { c.ACMEEmail = "not-an-email" }, "acme_email"},
		{"node port", func(c *Config) { c.HTTPSNodePort = 443 }, "https_node_port"},
		{"unsupported minor", func(c *Config) { c.KubernetesVersion = "1.20.1" }, "kubernetes_version"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := testConfig()
			tc.edit(&c)
			_, err := Render(c)
			if err == nil || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("want an error naming %s, got %v", tc.field, err)
			}
		})
	}
}

func TestCiliumValuesMatchCluster(t *testing.T) {
	v := CiliumValues(testConfig())
	if v["k8sServiceHost"] != "api.dev.example.com" || v["k8sServicePort"] != 6443 {
		t.Errorf("kube-proxy replacement must reach the API at api.<domain>:6443, got %v:%v", v["k8sServiceHost"], v["k8sServicePort"])
	}
	if ipam, _ := v["ipam"].(map[string]any); ipam["mode"] != "kubernetes" {
		t.Errorf("ipam.mode = %v, want kubernetes", ipam["mode"])
	}
	if v["tunnelProtocol"] != "vxlan" || v["routingMode"] != "tunnel" {
		t.Errorf("want VXLAN tunnelling, got %v/%v", v["routingMode"], v["tunnelProtocol"])
	}
}

// The controllers that call AWS must reach the metadata service with a hop
// limit of 1 (host network, control plane); every other pod is denied it by
// a Cilium policy that does not otherwise change what pods may reach.
func TestInstanceMetadataReachableOnlyFromHostNetwork(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeStrict(t, manifests)
	for _, key := range []string{"Deployment/cluster-autoscaler", "Deployment/efs-csi-controller"} {
		pod := objs[key].(*appsv1.Deployment).Spec.Template.Spec
		if !pod.HostNetwork || pod.DNSPolicy != corev1.DNSClusterFirstWithHostNet {
			t.Errorf("%s: hostNetwork %v dnsPolicy %q; with hop limit 1 it cannot reach the instance role", key, pod.HostNetwork, pod.DNSPolicy)
		}
		if _, ok := pod.NodeSelector["node-role.kubernetes.io/control-plane"]; !ok {
			t.Errorf("%s is not pinned to the control plane, whose role it needs", key)
		}
	}

	p, ok := objs["CiliumClusterwideNetworkPolicy/"+IMDSPolicyName].(*CiliumClusterwideNetworkPolicy)
	if !ok {
		t.Fatalf("no CiliumClusterwideNetworkPolicy %s", IMDSPolicyName)
	}
	sel := p.Spec.EndpointSelector
	if len(sel.MatchLabels) != 0 || len(sel.MatchExpressions) != 0 {
		t.Errorf("the policy must select every pod, selects %v", sel)
	}
	if d := p.Spec.EnableDefaultDeny; d == nil || d.Egress == nil || *d.Egress || d.Ingress == nil || *d.Ingress {
		t.Errorf("enableDefaultDeny must be false both ways (a deny-only policy would otherwise cut all other egress): %+v", d)
	}
	var denied []string
	for _, r := range p.Spec.EgressDeny {
		denied = append(denied, r.ToCIDR...)
	}
	if !slices.Equal(denied, []string{"169.254.169.254/32"}) {
		t.Errorf("egressDeny %v, want exactly the metadata service", denied)
	}
}
