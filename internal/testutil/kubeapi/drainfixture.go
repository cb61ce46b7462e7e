package kubeapi

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
)

// DrainFixture writes, into one namespace of a real API server, what a drain
// test needs: Nodes with provider IDs, pods that run on them and a
// PodDisruptionBudget. No kubelet or controller runs, so it also writes
// what they would: a pod's running, ready status and the budget's verdict.
type DrainFixture struct {
	t    testing.TB
	kube kubernetes.Interface
	ctx  context.Context
	// NS is the namespace of the pods and the budget.
	NS string
}

// NewDrainFixture creates the namespace ns.
func NewDrainFixture(t testing.TB, kube kubernetes.Interface, ns string) *DrainFixture {
	t.Helper()
	f := &DrainFixture{t: t, kube: kube, ctx: context.Background(), NS: ns}
	_, err := kube.CoreV1().Namespaces().Create(f.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	f.must("namespace "+ns, err)
	return f
}

func (f *DrainFixture) must(what string, err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

// Node creates a Node whose spec.providerID is aws:///<az>/<instanceID>.
func (f *DrainFixture) Node(name, az, instanceID string) {
	f.t.Helper()
	_, err := f.kube.CoreV1().Nodes().Create(f.ctx, InstanceNode(name, az, instanceID), metav1.CreateOptions{})
	f.must("node "+name, err)
}

// InstanceNode is the Node an EC2 instance's kubelet registers: named
// name, with spec.providerID aws:///<az>/<instanceID>.
func InstanceNode(name, az, instanceID string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.NodeSpec{ProviderID: "aws:///" + az + "/" + instanceID}}
}

// RunningPod creates a pod bound to node, controlled by an owner of kind
// ownerKind ("" for none), and marks it running and ready, as its kubelet
// would (the API server evicts a Pending pod without asking the budget).
// Its grace period is zero: no kubelet confirms a graceful deletion here.
func (f *DrainFixture) RunningPod(name, node string, labels map[string]string, ownerKind string) {
	f.t.Helper()
	zero := int64(0)
	p := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: f.NS, Labels: labels},
		Spec: corev1.PodSpec{NodeName: node, TerminationGracePeriodSeconds: &zero,
			Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}
	if ownerKind != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: ownerKind, Name: "x",
			UID: "00000000-0000-0000-0000-000000000001", Controller: &yes}}
	}
	created, err := f.kube.CoreV1().Pods(f.NS).Create(f.ctx, p, metav1.CreateOptions{})
	f.must("pod "+name, err)
	created.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	_, err = f.kube.CoreV1().Pods(f.NS).UpdateStatus(f.ctx, created, metav1.UpdateOptions{})
	f.must("pod status "+name, err)
}

// Budget creates a PodDisruptionBudget over the pods labelled selector.
func (f *DrainFixture) Budget(name string, maxUnavailable int32, selector map[string]string) {
	f.t.Helper()
	max := intstr.FromInt32(maxUnavailable)
	_, err := f.kube.PolicyV1().PodDisruptionBudgets(f.NS).Create(f.ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &max, Selector: &metav1.LabelSelector{MatchLabels: selector}},
	}, metav1.CreateOptions{})
	f.must("budget "+name, err)
}

// AllowDisruptions writes the disruption controller's verdict on budget
// name, over expected healthy pods: allowed evictions and no more.
func (f *DrainFixture) AllowDisruptions(name string, allowed, expected int32) {
	f.t.Helper()
	cur, err := f.kube.PolicyV1().PodDisruptionBudgets(f.NS).Get(f.ctx, name, metav1.GetOptions{})
	f.must("budget "+name, err)
	cur.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: cur.Generation, DisruptionsAllowed: allowed,
		CurrentHealthy: expected, DesiredHealthy: expected - allowed, ExpectedPods: expected}
	_, err = f.kube.PolicyV1().PodDisruptionBudgets(f.NS).UpdateStatus(f.ctx, cur, metav1.UpdateOptions{})
	f.must("budget status "+name, err)
}
