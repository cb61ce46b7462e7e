package nodelifecycle

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"

	"github.com/kforge/kforge/internal/testutil/kubeapi"
)

// realAPIServer is a real etcd and kube-apiserver (kubeapi.Start).
func realAPIServer(t *testing.T) kubernetes.Interface { return kubeapi.Start(t) }

// TestDrainAgainstARealAPIServer: the drain of a terminating node against
// a real kube-apiserver. A PodDisruptionBudget that allows no disruption
// makes the API server refuse the eviction (429) until the drain times out;
// once it allows one, the API server evicts the pod and the node goes.
// DaemonSet-owned pods stay; another node's pods are untouched.
func TestDrainAgainstARealAPIServer(t *testing.T) {
	kube := realAPIServer(t)
	ctx := context.Background()
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	_, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}, metav1.CreateOptions{})
	must("namespace", err)
	for _, n := range []*corev1.Node{node("ip-10-0-1-1", "i-0a1b2c3d4e5f60001"), node("ip-10-0-1-2", "i-0a1b2c3d4e5f60002")} {
		_, err := kube.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{})
		must("node", err)
	}
	zero := int64(0)
	mkPod := func(name, nodeName string, labels map[string]string, owner string) {
		p := pod("apps", name, nodeName, owner, nil)
		p.UID = ""
		p.Labels = labels
		p.Spec.TerminationGracePeriodSeconds = &zero // no kubelet confirms a graceful deletion here
		p.Spec.Containers = []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}
		if owner != "" {
			p.OwnerReferences[0].UID = "00000000-0000-0000-0000-000000000001"
		}
		created, err := kube.CoreV1().Pods("apps").Create(ctx, p, metav1.CreateOptions{})
		must("pod "+name, err)
		// What the kubelet would report: a running, ready pod (the API
		// server evicts Pending pods without asking the budget).
		created.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
		_, err = kube.CoreV1().Pods("apps").UpdateStatus(ctx, created, metav1.UpdateOptions{})
		must("pod status "+name, err)
	}
	mkPod("db-0", "ip-10-0-1-1", map[string]string{"app": "db"}, "")
	mkPod("agent-x", "ip-10-0-1-1", map[string]string{"app": "agent"}, "DaemonSet")
	mkPod("db-1", "ip-10-0-1-2", map[string]string{"app": "db"}, "")

	one := intstr.FromInt32(1)
	pdb, err := kube.PolicyV1().PodDisruptionBudgets("apps").Create(ctx, &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: "db"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "db"}}},
	}, metav1.CreateOptions{})
	must("pdb", err)
	// The disruption controller's verdict, written by hand: none allowed.
	setAllowed := func(n int32) {
		t.Helper()
		cur, err := kube.PolicyV1().PodDisruptionBudgets("apps").Get(ctx, pdb.Name, metav1.GetOptions{})
		must("pdb get", err)
		cur.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: cur.Generation, DisruptionsAllowed: n, CurrentHealthy: 2, DesiredHealthy: 1, ExpectedPods: 2}
		_, err = kube.PolicyV1().PodDisruptionBudgets("apps").UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		must("pdb status", err)
	}
	setAllowed(0)

	h := &Handler{Kube: kube, DrainTimeout: 2 * time.Second, RetryInterval: 200 * time.Millisecond}
	evicted, timedOut, err := h.drain(ctx, "ip-10-0-1-1", h.DrainTimeout)
	must("drain", err)
	if !timedOut || evicted != 0 {
		t.Fatalf("with the budget exhausted: evicted %d, timed out %v; want the API server to refuse until the timeout", evicted, timedOut)
	}
	if _, err := kube.CoreV1().Pods("apps").Get(ctx, "db-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("db-0 gone although the budget refused: %v", err)
	}

	setAllowed(1)
	r, err := h.drainAndDelete(ctx, "i-0a1b2c3d4e5f60001", 10*time.Second)
	must("drain and delete", err)
	if r.Node != "ip-10-0-1-1" || r.Evicted != 1 || r.DrainTimedOut {
		t.Fatalf("result %+v, want db-0 evicted and the node deleted", r)
	}
	if _, err := kube.CoreV1().Pods("apps").Get(ctx, "db-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("db-0 still there after its eviction: %v", err)
	}
	for _, name := range []string{"agent-x", "db-1"} {
		if _, err := kube.CoreV1().Pods("apps").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("pod %s: %v, want untouched", name, err)
		}
	}
	if _, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("node ip-10-0-1-1 still there: %v", err)
	}
	n2, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-2", metav1.GetOptions{})
	if err != nil || n2.Spec.Unschedulable {
		t.Errorf("the other node was touched: %+v %v", n2.Spec, err)
	}
	after, err := kube.PolicyV1().PodDisruptionBudgets("apps").Get(ctx, pdb.Name, metav1.GetOptions{})
	must("pdb after", err)
	if after.Status.DisruptionsAllowed != 0 {
		t.Errorf("the API server did not count the eviction against the budget: disruptionsAllowed %d", after.Status.DisruptionsAllowed)
	}
}
