package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kforge/kforge/internal/testutil/kubeapi"
)

// A drain that did not finish names the budgets that allow no disruption
// of a pod still on the node, and only those.
func TestBlockingBudgetsNamesTheBudget(t *testing.T) {
	pod := func(name, node string, labels map[string]string) *corev1.Pod {
		return &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default", Labels: labels}, Spec: corev1.PodSpec{NodeName: node}}
	}
	budget := func(name string, app string, allowed int32) *policyv1.PodDisruptionBudget {
		zero := intstr.FromInt32(0)
		return &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec:   policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}}},
			Status: policyv1.PodDisruptionBudgetStatus{DisruptionsAllowed: allowed, CurrentHealthy: 2, DesiredHealthy: 2, ExpectedPods: 2}}
	}
	k := kubeNodes{client: fake.NewClientset(
		pod("web-1", "old", map[string]string{"app": "web"}),
		pod("web-2", "old", map[string]string{"app": "web"}),
		pod("db-1", "old", map[string]string{"app": "db"}),
		pod("cache-1", "other", map[string]string{"app": "cache"}),
		budget("web", "web", 0), budget("db", "db", 1), budget("cache", "cache", 0),
	)}
	got, err := k.blockingBudgets(context.Background(), "old")
	if err != nil {
		t.Fatal(err)
	}
	want := "default/web (0 disruptions allowed: 2 of 2 pods healthy, 2 needed; on the node: web-1, web-2)"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("blocking budgets %q, want [%q]", got, want)
	}
	e := &DrainError{Node: "old", Timeout: time.Minute, Blocking: got, Err: errors.New("global timeout reached")}
	if msg := e.Error(); !strings.Contains(msg, "did not finish within 1m0s: PodDisruptionBudget default/web") {
		t.Fatalf("DrainError: %s", msg)
	}
}

// oneGroup answers DescribeAutoScalingGroups with the instances it holds.
type oneGroup struct {
	autoScalingAPI
	mu        sync.Mutex
	instances []string
}

func (g *oneGroup) DescribeAutoScalingGroups(context.Context, *autoscaling.DescribeAutoScalingGroupsInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	grp := asgtypes.AutoScalingGroup{AutoScalingGroupName: aws.String("demo-controller")}
	for _, id := range g.instances {
		grp.Instances = append(grp.Instances, asgtypes.Instance{InstanceId: aws.String(id), LifecycleState: asgtypes.LifecycleStateInService})
	}
	return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: []asgtypes.AutoScalingGroup{grp}}, nil
}

// The control plane's downtime runs from the old API's last answer to the
// first answer once the old instance has left its group: an answer while
// it is still in the group (a blip) does not end the outage.
func TestMeasureDowntime(t *testing.T) {
	g := &oneGroup{instances: []string{"i-old"}}
	// up, up, down, down, up (old still in the group), down, up.
	answers := []bool{true, true, false, false, true, false, true}
	calls := 0
	var times []time.Time
	r := &roller{asg: g, ui: &recordingUI{}, probeInterval: 20 * time.Millisecond,
		probe: func(context.Context) bool {
			a := answers[min(calls, len(answers)-1)]
			times = append(times, time.Now())
			if calls == 5 {
				g.mu.Lock()
				g.instances = []string{"i-new"}
				g.mu.Unlock()
			}
			calls++
			return a
		}}
	step := RollStep{Pool: ControlPlanePool, Old: "i-old"}
	if err := r.measureDowntime(context.Background(), RollGroup{Pool: ControlPlanePool, ASG: "demo-controller"}, &step, time.Now(), "demo"); err != nil {
		t.Fatal(err)
	}
	if calls != 7 {
		t.Fatalf("probed %d times, want 7 (stop at the first answer after the old instance left)", calls)
	}
	want := times[6].Sub(times[1])
	got, err := time.ParseDuration(step.APIDowntime)
	if err != nil || step.APIDowntime == "" {
		t.Fatalf("APIDowntime %q: %v", step.APIDowntime, err)
	}
	if got != want.Round(time.Second) {
		t.Fatalf("downtime %s, want %s (last answer of the old API to the first of the new)", got, want.Round(time.Second))
	}
	// A worker pool is not probed.
	r.probe = func(context.Context) bool { t.Fatal("a worker pool probed"); return false }
	if err := r.measureDowntime(context.Background(), RollGroup{Pool: "general"}, &RollStep{}, time.Now(), "demo"); err != nil {
		t.Fatal(err)
	}
}

// TestRollDrainAgainstARealAPIServer: the roll's drain (kubectl's drain
// library) against a real kube-apiserver. A budget that allows no
// disruption makes the API server refuse the eviction until the drain
// times out: the error names the budget, the pod stays, the node stays
// cordoned. Once the budget allows one, the drain evicts the pod and
// leaves DaemonSet pods and other nodes alone.
func TestRollDrainAgainstARealAPIServer(t *testing.T) {
	kube := kubeapi.Start(t)
	ctx := context.Background()
	f := kubeapi.NewDrainFixture(t, kube, "apps")
	f.Node("ip-10-40-1-1.ec2.internal", "us-east-1a", "i-0old")
	f.Node("ip-10-40-1-2.ec2.internal", "us-east-1a", "i-0other")
	// kubectl's drain looks the DaemonSet up (one that is gone does not
	// protect its pod).
	_, err := kube.AppsV1().DaemonSets("apps").Create(ctx, &appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Name: "x"},
		Spec: appsv1.DaemonSetSpec{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "agent"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "agent"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "registry.k8s.io/pause:3.10"}}}}}}, metav1.CreateOptions{})
	must(t, "daemonset", err)
	f.RunningPod("web-0", "ip-10-40-1-1.ec2.internal", map[string]string{"app": "web"}, "ReplicaSet")
	f.RunningPod("agent-x", "ip-10-40-1-1.ec2.internal", map[string]string{"app": "agent"}, "DaemonSet")
	f.RunningPod("web-1", "ip-10-40-1-2.ec2.internal", map[string]string{"app": "web"}, "ReplicaSet")
	f.Budget("web", 0, map[string]string{"app": "web"})
	f.AllowDisruptions("web", 0, 2)

	k := kubeNodes{client: kube}
	var notes []string
	note := func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }
	node, evicted, err := k.Drain(ctx, "i-0old", 3*time.Second, note)
	var de *DrainError
	if !errors.As(err, &de) || node != "ip-10-40-1-1.ec2.internal" || evicted != 0 {
		t.Fatalf("drain with the budget exhausted: node %q, evicted %d, err %v; want a DrainError", node, evicted, err)
	}
	if !strings.Contains(err.Error(), "PodDisruptionBudget apps/web (0 disruptions allowed") || !strings.Contains(err.Error(), "on the node: web-0)") {
		t.Fatalf("the error does not name the budget and its pod on the node: %v", err)
	}
	if _, err := kube.CoreV1().Pods("apps").Get(ctx, "web-0", metav1.GetOptions{}); err != nil {
		t.Fatalf("web-0 gone although the budget refused: %v", err)
	}
	n, err := kube.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil || !n.Spec.Unschedulable {
		t.Fatalf("the node after a failed drain: %+v %v; want it left cordoned", n.Spec, err)
	}

	f.AllowDisruptions("web", 1, 2)
	_, evicted, err = k.Drain(ctx, "i-0old", 20*time.Second, note)
	if err != nil || evicted != 1 {
		t.Fatalf("drain with one disruption allowed: evicted %d, %v; want web-0 evicted", evicted, err)
	}
	if _, err := kube.CoreV1().Pods("apps").Get(ctx, "web-0", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("web-0 still there after its eviction: %v", err)
	}
	for _, name := range []string{"agent-x", "web-1"} {
		if _, err := kube.CoreV1().Pods("apps").Get(ctx, name, metav1.GetOptions{}); err != nil {
			t.Errorf("pod %s: %v, want untouched", name, err)
		}
	}
	other, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-40-1-2.ec2.internal", metav1.GetOptions{})
	if err != nil || other.Spec.Unschedulable {
		t.Errorf("the other node was touched: %+v %v", other.Spec, err)
	}
	// An instance without a Node has nothing to drain.
	if node, _, err := k.Drain(ctx, "i-0none", time.Second, note); node != "" || err != nil {
		t.Errorf("drain of an instance without a Node: %q, %v", node, err)
	}
}

// A Node whose kubelet stopped reporting (its zone lost) never confirms an
// evicted pod gone: the drain waits for it only so long, then succeeds,
// where a reachable Node's drain waits for it until the timeout. Against a
// real kube-apiserver: a finalizer holds the evicted pod, as a missing
// kubelet does.
func TestRollDrainDoesNotWaitForAnUnreachableNodesPods(t *testing.T) {
	kube := kubeapi.Start(t)
	ctx := context.Background()
	f := kubeapi.NewDrainFixture(t, kube, "apps")
	held := func(node, pod string) {
		t.Helper()
		f.RunningPod(pod, node, map[string]string{"app": "web"}, "ReplicaSet")
		p, err := kube.CoreV1().Pods("apps").Get(ctx, pod, metav1.GetOptions{})
		must(t, "pod", err)
		p.Finalizers = []string{"kforge.io/test-held"}
		_, err = kube.CoreV1().Pods("apps").Update(ctx, p, metav1.UpdateOptions{})
		must(t, "finalizer", err)
		t.Cleanup(func() {
			if p, err := kube.CoreV1().Pods("apps").Get(ctx, pod, metav1.GetOptions{}); err == nil {
				p.Finalizers = nil
				_, _ = kube.CoreV1().Pods("apps").Update(ctx, p, metav1.UpdateOptions{})
			}
		})
	}
	f.Node("ip-10-40-2-1.ec2.internal", "us-east-1b", "i-0lost")
	f.Node("ip-10-40-1-1.ec2.internal", "us-east-1a", "i-0live")
	for name, status := range map[string]corev1.ConditionStatus{"ip-10-40-2-1.ec2.internal": corev1.ConditionUnknown, "ip-10-40-1-1.ec2.internal": corev1.ConditionTrue} {
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		must(t, "node", err)
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status, Reason: "NodeStatusUnknown"}}
		_, err = kube.CoreV1().Nodes().UpdateStatus(ctx, n, metav1.UpdateOptions{})
		must(t, "node status", err)
	}
	held("ip-10-40-2-1.ec2.internal", "web-lost")
	held("ip-10-40-1-1.ec2.internal", "web-live")

	k := kubeNodes{client: kube, unreachableWait: time.Second}
	var notes []string
	note := func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }
	if _, _, err := k.Drain(ctx, "i-0lost", 30*time.Second, note); err != nil {
		t.Fatalf("drain of an unreachable node: %v; want it done once the evicted pod waited its second", err)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "is unreachable (Ready Unknown)") {
		t.Errorf("notes %q do not say the node is unreachable", notes)
	}
	var de *DrainError
	if _, _, err := k.Drain(ctx, "i-0live", 4*time.Second, note); !errors.As(err, &de) {
		t.Errorf("drain of a reachable node with a pod that stays: %v; want the timeout", err)
	}
}

// kubectl's drain stops at the first failed call. A refusal the API
// server no longer confirms (its authorizer had not synced after a
// restart, as after the control plane's kubelet upgrade recreates its
// static Pods) drains again; a refusal it confirms stops the drain and
// names the permission. Against a real kube-apiserver and its RBAC, as
// kubeadm's admin.conf identity.
func TestRollDrainAgainAfterARefusalTheAPIServerNoLongerConfirms(t *testing.T) {
	kube := kubeapi.StartServer(t)
	ctx := context.Background()
	// The operator may do all a drain does but read a pod: the eviction
	// goes through, and the wait for the pod to go is refused.
	rules := []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes"}, Verbs: []string{"get", "list", "patch", "update"}},
		{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"list"}},
		{APIGroups: []string{""}, Resources: []string{"pods/eviction"}, Verbs: []string{"create"}},
		{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"list"}},
	}
	_, err := kube.Admin.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "drain-but-read"}, Rules: rules}, metav1.CreateOptions{})
	must(t, "cluster role", err)
	bindClusterAdmins(t, kube.Admin, "drain-but-read")
	f := kubeapi.NewDrainFixture(t, kube.Admin, "apps")
	f.Node("ip-10-40-1-1.ec2.internal", "us-east-1a", "i-0old")
	f.Node("ip-10-40-1-2.ec2.internal", "us-east-1a", "i-0next")
	f.RunningPod("web-0", "ip-10-40-1-1.ec2.internal", map[string]string{"app": "web"}, "ReplicaSet")
	f.RunningPod("web-1", "ip-10-40-1-2.ec2.internal", map[string]string{"app": "web"}, "ReplicaSet")

	k := kubeNodes{client: kube.Operator, retryDelay: 2 * time.Second}
	var notes []string
	note := func(f string, a ...any) { notes = append(notes, fmt.Sprintf(f, a...)) }

	// Confirmed: the API server still refuses the read. No retry.
	_, _, err = k.Drain(ctx, "i-0old", time.Minute, note)
	var de *DrainError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "stopped before its timeout (1m0s)") || !strings.Contains(err.Error(), "may not get pods in every namespace") {
		t.Fatalf("drain without the right to read pods: %v; want a DrainError naming get pods", err)
	}
	if strings.Contains(strings.Join(notes, "\n"), "again") {
		t.Errorf("a confirmed refusal drained again: %q", notes)
	}

	// Passing: the right arrives while the drain waits (as an API server's
	// authorizer syncs after its restart). The drain starts again and
	// finishes.
	f.RunningPod("web-2", "ip-10-40-1-2.ec2.internal", map[string]string{"app": "web"}, "ReplicaSet")
	notes = nil
	grant := make(chan error, 1)
	go func() {
		// Once web-1 is evicted, the refusal of its read has happened.
		for {
			if _, err := kube.Admin.CoreV1().Pods("apps").Get(ctx, "web-1", metav1.GetOptions{}); apierrors.IsNotFound(err) {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		cr, err := kube.Admin.RbacV1().ClusterRoles().Get(ctx, "drain-but-read", metav1.GetOptions{})
		if err == nil {
			cr.Rules = append(cr.Rules, rbacv1.PolicyRule{APIGroups: []string{""}, Resources: []string{"pods"}, Verbs: []string{"get"}})
			_, err = kube.Admin.RbacV1().ClusterRoles().Update(ctx, cr, metav1.UpdateOptions{})
		}
		grant <- err
	}()
	node, evicted, err := k.Drain(ctx, "i-0next", time.Minute, note)
	must(t, "granting get pods", <-grant)
	if err != nil || node != "ip-10-40-1-2.ec2.internal" {
		t.Fatalf("drain after the refusal passed: node %q, %v; want it drained; notes %q", node, err, notes)
	}
	if !strings.Contains(strings.Join(notes, "\n"), "draining node ip-10-40-1-2.ec2.internal again (attempt 2 of 3)") {
		t.Errorf("the notes do not say the drain started again: %q", notes)
	}
	// Both went in the first attempt, whose waits were refused: the count
	// is of evictions seen through, none.
	if evicted != 0 {
		t.Errorf("evicted %d pods counted, want 0", evicted)
	}
	for _, name := range []string{"web-1", "web-2"} {
		if _, err := kube.Admin.CoreV1().Pods("apps").Get(ctx, name, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("pod %s after the drain: %v, want gone", name, err)
		}
	}
}

// must stops the test when a setup step fails.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}
