package nodelifecycle

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	asgtypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
)

// fakeASG serves DescribeAutoScalingGroups from a fixed list and records
// CompleteLifecycleAction. The emulator cannot serve this half: moto never
// holds an instance in Terminating:Wait and does not implement
// CompleteLifecycleAction (docs/EMULATOR-NOTES.md).
type fakeASG struct {
	mu          sync.Mutex
	groups      []asgtypes.AutoScalingGroup
	completed   []autoscaling.CompleteLifecycleActionInput
	completeErr error
}

func (f *fakeASG) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	var out []asgtypes.AutoScalingGroup
	for _, g := range f.groups {
		for _, name := range in.AutoScalingGroupNames {
			if aws.ToString(g.AutoScalingGroupName) == name {
				out = append(out, g)
			}
		}
	}
	return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: out}, nil
}

func (f *fakeASG) CompleteLifecycleAction(_ context.Context, in *autoscaling.CompleteLifecycleActionInput, _ ...func(*autoscaling.Options)) (*autoscaling.CompleteLifecycleActionOutput, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.completeErr != nil {
		return nil, f.completeErr
	}
	f.completed = append(f.completed, *in)
	return &autoscaling.CompleteLifecycleActionOutput{}, nil
}

// TerminateInstanceInAutoScalingGroup: the drain never terminates an
// instance; ReplaceWorkersWithoutNode is tested on the emulator.
func (f *fakeASG) TerminateInstanceInAutoScalingGroup(context.Context, *autoscaling.TerminateInstanceInAutoScalingGroupInput, ...func(*autoscaling.Options)) (*autoscaling.TerminateInstanceInAutoScalingGroupOutput, error) {
	return nil, errors.New("the drain's fake Auto Scaling terminates no instance")
}

func group(name string, instances map[string]asgtypes.LifecycleState) asgtypes.AutoScalingGroup {
	g := asgtypes.AutoScalingGroup{AutoScalingGroupName: aws.String(name)}
	for id, state := range instances {
		g.Instances = append(g.Instances, asgtypes.Instance{InstanceId: aws.String(id), LifecycleState: state})
	}
	return g
}

func node(name, instanceID string) *corev1.Node {
	return &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: "aws:///eu-west-1a/" + instanceID}}
}

func pod(ns, name, nodeName, ownerKind string, annotations map[string]string) *corev1.Pod {
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID("uid-" + ns + "-" + name), Annotations: annotations},
		Spec:       corev1.PodSpec{NodeName: nodeName},
		Status:     corev1.PodStatus{Phase: corev1.PodRunning},
	}
	if ownerKind != "" {
		yes := true
		p.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: ownerKind, Name: name + "-owner", UID: "owner", Controller: &yes}}
	}
	return p
}

// evictions makes the fake API server answer evictions as the real one
// does for the outcome the test chooses: refuse (429, a PodDisruptionBudget
// allows no disruption) or delete the pod. The fake clientset has no
// eviction logic of its own, so which pods a budget protects is decided
// here, not by a PodDisruptionBudget object.
type evictions struct {
	mu      sync.Mutex
	refuse  map[string]int // pod name -> evictions to refuse first (-1: always)
	evicted []string
}

func (e *evictions) install(c *fake.Clientset) {
	c.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		ev := action.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction)
		e.mu.Lock()
		n := e.refuse[ev.Name]
		if n != 0 {
			if n > 0 {
				e.refuse[ev.Name] = n - 1
			}
			e.mu.Unlock()
			return true, nil, apierrors.NewTooManyRequests("Cannot evict pod as it would violate the pod's disruption budget.", 0)
		}
		e.evicted = append(e.evicted, ev.Namespace+"/"+ev.Name)
		e.mu.Unlock()
		err := c.Tracker().Delete(schema.GroupVersionResource{Version: "v1", Resource: "pods"}, ev.Namespace, ev.Name)
		return true, nil, err
	})
}

func newHandler(asg *fakeASG, kube *fake.Clientset) *Handler {
	return &Handler{
		ASG: asg, Kube: kube, Groups: []string{"demo-general", "demo-controller"}, Hook: "kforge-drain",
		DrainTimeout: 200 * time.Millisecond, RetryInterval: 5 * time.Millisecond,
	}
}

func TestTerminatingNodeIsDrainedDeletedAndCompleted(t *testing.T) {
	ctx := context.Background()
	asg := &fakeASG{groups: []asgtypes.AutoScalingGroup{
		group("demo-general", map[string]asgtypes.LifecycleState{"i-0aaa": asgtypes.LifecycleStateTerminatingWait, "i-0bbb": asgtypes.LifecycleStateInService}),
		group("other-cluster", map[string]asgtypes.LifecycleState{"i-0ccc": asgtypes.LifecycleStateTerminatingWait}),
	}}
	kube := fake.NewClientset(
		node("ip-10-0-1-1", "i-0aaa"), node("ip-10-0-1-2", "i-0bbb"),
		pod("apps", "web-1", "ip-10-0-1-1", "ReplicaSet", nil),
		pod("apps", "web-2", "ip-10-0-1-2", "ReplicaSet", nil),
		pod("kube-system", "cilium-x", "ip-10-0-1-1", "DaemonSet", nil),
		pod("kube-system", "static", "ip-10-0-1-1", "", map[string]string{corev1.MirrorPodAnnotationKey: "hash"}),
	)
	var cordoned []string
	kube.PrependReactor("patch", "nodes", func(action k8stesting.Action) (bool, runtime.Object, error) {
		p := action.(k8stesting.PatchAction)
		if strings.Contains(string(p.GetPatch()), `"unschedulable":true`) {
			cordoned = append(cordoned, p.GetName())
		}
		return false, nil, nil
	})
	ev := &evictions{refuse: map[string]int{}}
	ev.install(kube)

	results, err := newHandler(asg, kube).RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].InstanceID != "i-0aaa" || results[0].Node != "ip-10-0-1-1" || results[0].Evicted != 1 || results[0].DrainTimedOut {
		t.Fatalf("results %+v, want i-0aaa on ip-10-0-1-1 with 1 pod evicted", results)
	}
	if len(cordoned) != 1 || cordoned[0] != "ip-10-0-1-1" {
		t.Errorf("cordoned %v, want [ip-10-0-1-1]", cordoned)
	}
	if len(ev.evicted) != 1 || ev.evicted[0] != "apps/web-1" {
		t.Errorf("evicted %v, want only apps/web-1 (not the DaemonSet pod, the static pod or another node's pod)", ev.evicted)
	}
	if _, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("node of the terminated instance still exists (err %v)", err)
	}
	if _, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-2", metav1.GetOptions{}); err != nil {
		t.Errorf("node of the in-service instance: %v", err)
	}
	if len(asg.completed) != 1 {
		t.Fatalf("completed %d lifecycle actions, want 1 (not another cluster's group)", len(asg.completed))
	}
	c := asg.completed[0]
	if aws.ToString(c.AutoScalingGroupName) != "demo-general" || aws.ToString(c.LifecycleHookName) != "kforge-drain" || aws.ToString(c.InstanceId) != "i-0aaa" || aws.ToString(c.LifecycleActionResult) != "CONTINUE" {
		t.Errorf("CompleteLifecycleAction %+v", c)
	}
}

func TestDisruptionBudgetIsRetriedThenRespectedUntilTheTimeout(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		refuse   int
		timedOut bool
		evicted  int
	}{
		{"budget allows after two refusals", 2, false, 1},
		{"budget never allows", -1, true, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			asg := &fakeASG{groups: []asgtypes.AutoScalingGroup{group("demo-general", map[string]asgtypes.LifecycleState{"i-0aaa": asgtypes.LifecycleStateTerminatingWait})}}
			kube := fake.NewClientset(node("ip-10-0-1-1", "i-0aaa"), pod("apps", "db-0", "ip-10-0-1-1", "StatefulSet", nil))
			ev := &evictions{refuse: map[string]int{"db-0": tc.refuse}}
			ev.install(kube)
			results, err := newHandler(asg, kube).RunOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) != 1 || results[0].DrainTimedOut != tc.timedOut || results[0].Evicted != tc.evicted {
				t.Fatalf("results %+v, want timed out %v, evicted %d", results, tc.timedOut, tc.evicted)
			}
			// Either way the node goes and the action completes: the
			// instance terminates when the hook times out regardless.
			if _, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
				t.Errorf("node still exists (err %v)", err)
			}
			if len(asg.completed) != 1 {
				t.Errorf("completed %d actions, want 1", len(asg.completed))
			}
		})
	}
}

func TestInstanceWithoutNodeIsCompleted(t *testing.T) {
	asg := &fakeASG{groups: []asgtypes.AutoScalingGroup{group("demo-controller", map[string]asgtypes.LifecycleState{"i-0ddd": asgtypes.LifecycleStateTerminatingWait})}}
	kube := fake.NewClientset(node("ip-10-0-1-1", "i-0aaa"))
	results, err := newHandler(asg, kube).RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(results) != 1 || results[0].Node != "" || len(asg.completed) != 1 {
		t.Fatalf("results %+v, completed %d; want the action completed with no node", results, len(asg.completed))
	}
	if _, err := kube.CoreV1().Nodes().Get(context.Background(), "ip-10-0-1-1", metav1.GetOptions{}); err != nil {
		t.Errorf("another instance's node was touched: %v", err)
	}
}

func TestCompletionFailureIsReported(t *testing.T) {
	asg := &fakeASG{
		groups:      []asgtypes.AutoScalingGroup{group("demo-general", map[string]asgtypes.LifecycleState{"i-0aaa": asgtypes.LifecycleStateTerminatingWait})},
		completeErr: errors.New("AccessDenied"),
	}
	_, err := newHandler(asg, fake.NewClientset()).RunOnce(context.Background())
	if err == nil || !strings.Contains(err.Error(), "i-0aaa") || !strings.Contains(err.Error(), "AccessDenied") {
		t.Fatalf("error %v, want one naming the instance and the cause", err)
	}
}

// The scan drains its instances at once, so one held by its drain (a
// budget, for up to the drain's timeout) does not hold the others; and it
// leaves an instance an event is draining, whose handling completes its
// lifecycle action.
func TestScanDrainsAtOnceAndLeavesWhatAnEventDrains(t *testing.T) {
	ctx := context.Background()
	asg := &fakeASG{groups: []asgtypes.AutoScalingGroup{group("demo-general", map[string]asgtypes.LifecycleState{
		"i-0aaa": asgtypes.LifecycleStateTerminatingWait, "i-0bbb": asgtypes.LifecycleStateTerminatingWait, "i-0ccc": asgtypes.LifecycleStateTerminatingWait,
	})}}
	kube := fake.NewClientset(
		node("ip-10-0-1-1", "i-0aaa"), node("ip-10-0-1-2", "i-0bbb"), node("ip-10-0-1-3", "i-0ccc"),
		pod("apps", "web-1", "ip-10-0-1-1", "ReplicaSet", nil),
		pod("apps", "web-2", "ip-10-0-1-2", "ReplicaSet", nil),
		pod("apps", "web-3", "ip-10-0-1-3", "ReplicaSet", nil),
	)
	ev := &evictions{refuse: map[string]int{}}
	ev.install(kube)
	// web-1 and web-2 are each evicted only once the other's eviction has
	// been asked for: drained one after the other, the first drain is
	// refused until its timeout.
	asked := map[string]chan struct{}{"web-1": make(chan struct{}), "web-2": make(chan struct{})}
	partner := map[string]string{"web-1": "web-2", "web-2": "web-1"}
	var first sync.Map
	kube.PrependReactor("create", "pods", func(action k8stesting.Action) (bool, runtime.Object, error) {
		if action.GetSubresource() != "eviction" {
			return false, nil, nil
		}
		name := action.(k8stesting.CreateAction).GetObject().(*policyv1.Eviction).Name
		if _, ok := asked[name]; !ok {
			return false, nil, nil
		}
		if _, again := first.LoadOrStore(name, true); !again {
			close(asked[name])
		}
		select {
		case <-asked[partner[name]]:
			return false, nil, nil
		case <-time.After(100 * time.Millisecond):
			return true, nil, apierrors.NewTooManyRequests("the other node's drain has not begun", 0)
		}
	})

	h := newHandler(asg, kube)
	h.DrainTimeout = 2 * time.Second
	eventDone := h.drainStarted("i-0ccc") // an event's drain of i-0ccc
	results, err := h.RunOnce(ctx)
	eventDone()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range results {
		got = append(got, r.InstanceID)
		if r.DrainTimedOut {
			t.Errorf("%s: the drain timed out waiting for the other instance's: the scan drains one instance at a time", r.InstanceID)
		}
	}
	if !slices.Equal(got, []string{"i-0aaa", "i-0bbb"}) {
		t.Errorf("the scan handled %v, want i-0aaa and i-0bbb and not i-0ccc, which an event drains", got)
	}
	for _, c := range asg.completed {
		if aws.ToString(c.InstanceId) == "i-0ccc" {
			t.Error("the scan completed the lifecycle action of the instance an event drains")
		}
	}
	if _, err := kube.CoreV1().Nodes().Get(ctx, "ip-10-0-1-3", metav1.GetOptions{}); err != nil {
		t.Errorf("the node an event drains: %v", err)
	}
}

// The scan reads the groups again first: an instance waiting in a pool
// added since the drainer started is drained and its action completed.
func TestScanReadsTheGroupsAgain(t *testing.T) {
	asg := &fakeASG{groups: []asgtypes.AutoScalingGroup{group("demo-batch", map[string]asgtypes.LifecycleState{"i-0aaa": asgtypes.LifecycleStateTerminatingWait})}}
	kube := fake.NewClientset(node("ip-10-0-1-1", "i-0aaa"), pod("apps", "web-1", "ip-10-0-1-1", "ReplicaSet", nil))
	d := &Drainer{Handler: newHandler(asg, kube)}
	d.Handler.ReloadGroups = func(context.Context) ([]string, error) {
		return []string{"demo-batch", "demo-controller", "demo-general"}, nil
	}
	d.scan(context.Background())
	if len(asg.completed) != 1 || aws.ToString(asg.completed[0].AutoScalingGroupName) != "demo-batch" || aws.ToString(asg.completed[0].InstanceId) != "i-0aaa" {
		t.Fatalf("completed %+v, want i-0aaa of the new pool demo-batch", asg.completed)
	}
}
