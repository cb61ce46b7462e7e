package addons

import (
	"reflect"
	"slices"
	"sort"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	corev1helpers "k8s.io/component-helpers/scheduling/corev1"
	"k8s.io/component-helpers/scheduling/corev1/nodeaffinity"
	"k8s.io/klog/v2"
)

// controlPlaneNode is a kubeadm control-plane node as kforge registers it.
func controlPlaneNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-1-10", Labels: map[string]string{
			"kubernetes.io/os": "linux", "node-role.kubernetes.io/control-plane": "",
		}},
		Spec: corev1.NodeSpec{Taints: []corev1.Taint{{Key: "node-role.kubernetes.io/control-plane", Effect: corev1.TaintEffectNoSchedule}}},
	}
}

// workerNode is a worker of a pool with a dedicated taint.
func workerNode() *corev1.Node {
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: "ip-10-0-2-20", Labels: map[string]string{"kubernetes.io/os": "linux", "kforge.io/pool": "gpu"}},
		Spec:       corev1.NodeSpec{Taints: []corev1.Taint{{Key: "dedicated", Value: "gpu", Effect: corev1.TaintEffectNoSchedule}}},
	}
}

// schedulable applies the scheduler's own taint and node-affinity checks.
func schedulable(t *testing.T, spec corev1.PodSpec, node *corev1.Node) bool {
	t.Helper()
	pod := &corev1.Pod{Spec: spec}
	if _, untolerated := corev1helpers.FindMatchingUntoleratedTaint(klog.Background(), node.Spec.Taints, spec.Tolerations, func(tt *corev1.Taint) bool {
		return tt.Effect == corev1.TaintEffectNoSchedule || tt.Effect == corev1.TaintEffectNoExecute
	}, false); untolerated {
		return false
	}
	ok, err := nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)
	if err != nil {
		t.Fatalf("node affinity: %v", err)
	}
	return ok
}

// Host-network and privileged pods on the control plane can take its
// instance role (CA key, etcd snapshots). Only the two controllers that need
// that role may be scheduled there; every other such pod stays on workers.
func TestOnlyAWSControllersOnControlPlaneHostNetwork(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	var onCP []string
	for key, spec := range podSpecs(decodeStrict(t, manifests)) {
		exposed := spec.HostNetwork
		for _, c := range spec.Containers {
			if c.SecurityContext != nil && c.SecurityContext.Privileged != nil && *c.SecurityContext.Privileged {
				exposed = true
			}
		}
		if exposed && schedulable(t, spec, controlPlaneNode()) {
			onCP = append(onCP, key)
		}
	}
	sort.Strings(onCP)
	want := []string{"Deployment/cluster-autoscaler", "Deployment/efs-csi-controller"}
	if !slices.Equal(onCP, want) {
		t.Errorf("host-network or privileged pods schedulable on the control plane: %v, want only %v", onCP, want)
	}
}

// The EFS node plugin must still reach every worker, tainted pools included.
func TestEFSNodePluginOnEveryWorker(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ds := decodeStrict(t, manifests)["DaemonSet/efs-csi-node"].(*appsv1.DaemonSet)
	if !schedulable(t, ds.Spec.Template.Spec, workerNode()) {
		t.Error("efs-csi-node cannot run on a tainted worker pool; pods there could not mount EFS")
	}
	if schedulable(t, ds.Spec.Template.Spec, controlPlaneNode()) {
		t.Error("efs-csi-node can run on the control plane")
	}
}

// No add-on may read Secrets cluster-wide except an ingress controller, which
// serves the TLS Secrets of Ingresses in every namespace (docs/SECURITY.md);
// the EFS CSI controller reads only kube-system/x-account, as upstream
// grants it.
func TestNoClusterWideSecretsAccess(t *testing.T) {
	allowed := map[string]bool{"ClusterRole/traefik": true}
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeStrict(t, manifests)
	for key, obj := range objs {
		cr, ok := obj.(*rbacv1.ClusterRole)
		if !ok {
			continue
		}
		for _, r := range cr.Rules {
			if (grants(r, "", "secrets") || grants(r, "", "*")) && !allowed[key] {
				t.Errorf("%s grants %v on secrets cluster-wide", key, r.Verbs)
			}
		}
	}
	role, ok := objs["Role/efs-csi-external-provisioner-role-describe-secrets"].(*rbacv1.Role)
	if !ok || role.Namespace != "kube-system" {
		t.Fatal("no Role for the EFS CSI controller's secret in kube-system")
	}
	if len(role.Rules) != 1 || !slices.Equal(role.Rules[0].ResourceNames, []string{"x-account"}) || !grants(role.Rules[0], "", "secrets") {
		t.Errorf("EFS CSI secrets role: %+v, want secrets limited to x-account", role.Rules)
	}
	rb, ok := objs["RoleBinding/efs-csi-external-provisioner-role-describe-secrets"].(*rbacv1.RoleBinding)
	if !ok || rb.Namespace != "kube-system" || rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != role.Name ||
		len(rb.Subjects) != 1 || rb.Subjects[0].Name != "efs-csi-controller-sa" || rb.Subjects[0].Namespace != "kube-system" {
		t.Errorf("EFS CSI secrets binding: %+v", rb)
	}
}

func grants(r rbacv1.PolicyRule, group, resource string) bool {
	return (slices.Contains(r.APIGroups, group) || slices.Contains(r.APIGroups, "*")) && slices.Contains(r.Resources, resource)
}

// The IAM policy lets the EFS CSI controller delete only access points
// tagged kforge.io/cluster=<cluster>, so it must create them with that tag.
func TestEFSControllerTagsAccessPointsWithCluster(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	d := decodeStrict(t, manifests)["Deployment/efs-csi-controller"].(*appsv1.Deployment)
	args := d.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--tags=kforge.io/cluster:demo") {
		t.Errorf("efs-plugin args %v lack --tags=kforge.io/cluster:demo", args)
	}
}

// The EFS node plugin runs an efs-proxy per mount in its efs-plugin
// container; a memory limit OOM-kills them all at once under ordinary use,
// and every pod of the node that uses EFS hangs on its hard mounts
// (aws-efs-csi-driver issues 1523 and 1827; upstream sets no limit). Its
// mounts resolve through the node's resolver, not CoreDNS; and it may read
// its own Node only, as v2.3.0 needs.
func TestEFSNodePluginMountsWithoutLimitOrCoreDNS(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	objs := decodeStrict(t, manifests)
	pod := objs["DaemonSet/efs-csi-node"].(*appsv1.DaemonSet).Spec.Template.Spec
	for _, c := range pod.Containers {
		if c.Name != "efs-plugin" {
			continue
		}
		if _, ok := c.Resources.Limits[corev1.ResourceMemory]; ok {
			t.Errorf("efs-plugin has a memory limit %v; its efs-proxy processes grow with the node's mounts", c.Resources.Limits)
		}
		if _, ok := c.Resources.Requests[corev1.ResourceMemory]; !ok {
			t.Error("efs-plugin requests no memory")
		}
	}
	if pod.DNSPolicy != corev1.DNSClusterFirst {
		t.Errorf("efs-csi-node dnsPolicy %q, want ClusterFirst (the node's resolver on the host network)", pod.DNSPolicy)
	}
	role := objs["ClusterRole/efs-csi-node-role"].(*rbacv1.ClusterRole)
	want := []rbacv1.PolicyRule{{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get"}}}
	if !reflect.DeepEqual(role.Rules, want) {
		t.Errorf("efs-csi-node-role rules %+v, want %+v", role.Rules, want)
	}
}

// A Deployment on the control plane's host network stops its pod before
// starting the new one: a surge pod could only go beside the old one on
// the one control-plane node, where the scheduler refuses its host ports
// or its own port is taken, and the rollout (an upgrade's new Cluster
// Autoscaler, any restart) would never end.
func TestControlPlaneHostNetworkDeploymentsAreRecreated(t *testing.T) {
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for key, obj := range decodeStrict(t, manifests) {
		d, ok := obj.(*appsv1.Deployment)
		if !ok || !d.Spec.Template.Spec.HostNetwork || !schedulable(t, d.Spec.Template.Spec, controlPlaneNode()) {
			continue
		}
		checked++
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Errorf("%s: strategy %q, want Recreate", key, d.Spec.Strategy.Type)
		}
	}
	if checked != 2 {
		t.Errorf("checked %d Deployments, want Cluster Autoscaler's and the EFS controller's", checked)
	}
}
