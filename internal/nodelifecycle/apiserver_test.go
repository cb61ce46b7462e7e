package nodelifecycle

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	f := kubeapi.NewDrainFixture(t, kube, "apps")
	f.Node("ip-10-0-1-1", "eu-west-1a", "i-0a1b2c3d4e5f60001")
	f.Node("ip-10-0-1-2", "eu-west-1a", "i-0a1b2c3d4e5f60002")
	f.RunningPod("db-0", "ip-10-0-1-1", map[string]string{"app": "db"}, "")
	f.RunningPod("agent-x", "ip-10-0-1-1", map[string]string{"app": "agent"}, "DaemonSet")
	f.RunningPod("db-1", "ip-10-0-1-2", map[string]string{"app": "db"}, "")
	f.Budget("db", 1, map[string]string{"app": "db"})
	// The disruption controller's verdict, written by hand: none allowed.
	f.AllowDisruptions("db", 0, 2)

	h := &Handler{Kube: kube, DrainTimeout: 2 * time.Second, RetryInterval: 200 * time.Millisecond}
	evicted, timedOut, err := h.drain(ctx, "ip-10-0-1-1", h.DrainTimeout)
	must("drain", err)
	if !timedOut || evicted != 0 {
		t.Fatalf("with the budget exhausted: evicted %d, timed out %v; want the API server to refuse until the timeout", evicted, timedOut)
	}
	if _, err := kube.CoreV1().Pods("apps").Get(ctx, "db-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("db-0 gone although the budget refused: %v", err)
	}

	f.AllowDisruptions("db", 1, 2)
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
	// A Node deleted already is no error, and not reported deleted.
	if deleted, err := DeleteNode(ctx, kube, "ip-10-0-1-1"); deleted || err != nil {
		t.Errorf("DeleteNode of a Node gone already: deleted %v, %v; want false, nil", deleted, err)
	}
	n2, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-2", metav1.GetOptions{})
	if err != nil || n2.Spec.Unschedulable {
		t.Errorf("the other node was touched: %+v %v", n2.Spec, err)
	}
	after, err := kube.PolicyV1().PodDisruptionBudgets("apps").Get(ctx, "db", metav1.GetOptions{})
	must("pdb after", err)
	if after.Status.DisruptionsAllowed != 0 {
		t.Errorf("the API server did not count the eviction against the budget: disruptionsAllowed %d", after.Status.DisruptionsAllowed)
	}
}

// A Node whose kubelet stopped reporting (a lost zone) never confirms an
// evicted pod gone: the drain waits for it UnreachablePodWait, then the
// node goes and the lifecycle action completes, long before the drain's
// timeout. A finalizer holds the pod, as a missing kubelet does.
func TestDrainOfAnUnreachableNodeDoesNotWaitForItsPods(t *testing.T) {
	kube := realAPIServer(t)
	ctx := context.Background()
	f := kubeapi.NewDrainFixture(t, kube, "apps")
	f.Node("ip-10-0-1-1", "eu-west-1a", "i-0a1b2c3d4e5f60001")
	n, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-1", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionUnknown, Reason: "NodeStatusUnknown"}}
	if _, err := kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	f.RunningPod("web-0", "ip-10-0-1-1", map[string]string{"app": "web"}, "ReplicaSet")
	p, err := kube.CoreV1().Pods("apps").Get(ctx, "web-0", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p.Finalizers = []string{"kforge.io/test-held"}
	if _, err := kube.CoreV1().Pods("apps").Update(ctx, p, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}

	asg := &fakeASG{}
	h := &Handler{ASG: asg, Kube: kube, Groups: []string{"demo-general"}, Hook: "kforge-drain", DrainTimeout: time.Minute,
		RetryInterval: 200 * time.Millisecond, UnreachablePodWait: time.Second}
	ev, err := ParseEvent([]byte(sentNow(t, "lifecycle-terminate.json")))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	o := Outcome{Event: ev}
	if err := (&Drainer{Handler: h}).act(ctx, &o); err != nil {
		t.Fatalf("the drain of an unreachable node: %v", err)
	}
	if len(o.Results) != 1 || o.Results[0].DrainTimedOut || time.Since(start) > 30*time.Second {
		t.Errorf("the drain took %s (results %+v); want it done, not timed out, once the evicted pod waited its second", time.Since(start), o.Results)
	}
	if p, err := kube.CoreV1().Pods("apps").Get(ctx, "web-0", metav1.GetOptions{}); err != nil || p.DeletionTimestamp == nil {
		t.Errorf("web-0: %v; want it evicted, held by its finalizer", err)
	}
	if len(asg.completed) != 1 {
		t.Errorf("lifecycle actions completed: %v, want the instance's", asg.completed)
	}
}

// A pod the API server will not evict for another reason than a budget's
// (it answers 500 for a pod under two PodDisruptionBudgets) does not keep
// the drain from the node's other pods: they are evicted, and at the
// timeout the node goes and the lifecycle action completes, as for a drain
// a budget holds.
func TestDrainGoesOnPastAPodTheAPIServerWillNotEvict(t *testing.T) {
	kube := realAPIServer(t)
	ctx := context.Background()
	f := kubeapi.NewDrainFixture(t, kube, "apps")
	f.Node("ip-10-0-1-1", "eu-west-1a", "i-0a1b2c3d4e5f60001")
	f.RunningPod("a-db-0", "ip-10-0-1-1", map[string]string{"app": "db"}, "ReplicaSet")
	f.RunningPod("z-web-0", "ip-10-0-1-1", map[string]string{"app": "web"}, "ReplicaSet")
	f.Budget("db", 1, map[string]string{"app": "db"})
	f.Budget("db-too", 1, map[string]string{"app": "db"})
	f.AllowDisruptions("db", 1, 1)
	f.AllowDisruptions("db-too", 1, 1)

	asg := &fakeASG{}
	h := &Handler{ASG: asg, Kube: kube, Groups: []string{"demo-general"}, Hook: "kforge-drain", DrainTimeout: 2 * time.Second, RetryInterval: 200 * time.Millisecond}
	ev, err := ParseEvent([]byte(sentNow(t, "lifecycle-terminate.json")))
	if err != nil {
		t.Fatal(err)
	}
	o := Outcome{Event: ev}
	if err := (&Drainer{Handler: h}).act(ctx, &o); err != nil {
		t.Fatalf("the drain of a node with a pod under two budgets: %v", err)
	}
	if _, err := kube.CoreV1().Pods("apps").Get(ctx, "z-web-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("z-web-0, after the pod the API server would not evict: %v, want evicted", err)
	}
	if _, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the node after the drain's timeout: %v, want deleted", err)
	}
	if len(asg.completed) != 1 {
		t.Errorf("lifecycle actions completed: %v, want the instance's", asg.completed)
	}
}
