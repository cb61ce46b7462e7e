package nodelifecycle

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/kforge/kforge/internal/localaws/localawstest"
)

// queueOnEmulator creates a real SQS queue on the emulator, named as the
// interruption module names it, and sends it the given bodies.
func queueOnEmulator(t *testing.T, bodies ...string) (*sqs.Client, string) {
	t.Helper()
	cfg, _ := localawstest.ConfigForTest(t, "eu-west-1")
	ctx := context.Background()
	c := sqs.NewFromConfig(cfg)
	q, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("demo-node-events"), Attributes: map[string]string{
		string(sqstypes.QueueAttributeNameMessageRetentionPeriod): "300",
		string(sqstypes.QueueAttributeNameSqsManagedSseEnabled):   "true",
	}})
	if err != nil {
		t.Fatalf("creating the queue: %v", err)
	}
	for _, b := range bodies {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(b)}); err != nil {
			t.Fatalf("sending: %v", err)
		}
	}
	return c, aws.ToString(q.QueueUrl)
}

// messagesLeft is visible plus in-flight messages.
func messagesLeft(t *testing.T, c *sqs.Client, url string) int {
	t.Helper()
	out, err := c.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{QueueUrl: aws.String(url), AttributeNames: []sqstypes.QueueAttributeName{
		sqstypes.QueueAttributeNameApproximateNumberOfMessages, sqstypes.QueueAttributeNameApproximateNumberOfMessagesNotVisible,
	}})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range out.Attributes {
		i, _ := strconv.Atoi(v)
		n += i
	}
	return n
}

func newDrainer(asg *fakeASG, kube *fake.Clientset, c *sqs.Client, url string) *Drainer {
	return &Drainer{
		Handler: newHandler(asg, kube), SQS: c, QueueURL: url,
		InterruptionDrainTimeout: 200 * time.Millisecond, InterruptionMargin: 20 * time.Second,
		Wait: time.Second, ErrorBackoff: 10 * time.Millisecond, Visibility: time.Second,
	}
}

// drainQueue receives until a receive returns nothing, or tries run out.
func drainQueue(t *testing.T, d *Drainer) []Outcome {
	t.Helper()
	var all []Outcome
	for range 10 {
		out, _ := d.ReceiveOnce(context.Background())
		if len(out) == 0 {
			break
		}
		all = append(all, out...)
	}
	return all
}

// TestDrainerAgainstQueue: the samples of every kind, sent to a real SQS
// queue, are received, acted on and deleted: the lifecycle action's node is
// drained and deleted and its action completed with the event's token; the
// interrupted Spot instance's node is drained and deleted; the node of a
// rebalance recommendation is only cordoned; the node of a terminated
// instance is deleted; events about no node of the cluster, of another
// group, of a kind it ignores, and an unreadable body are deleted without
// touching anything.
// sentNow is the event sample named, as EventBridge sends it now: the
// drainer counts a Spot warning's two minutes and a lifecycle action's
// heartbeat from the event's time.
func sentNow(t *testing.T, name string) string {
	t.Helper()
	return strings.Replace(string(readEvent(t, name)), `"time": "2026-11-30T10:00:00Z"`, `"time": "`+time.Now().UTC().Format(time.RFC3339)+`"`, 1)
}

func TestDrainerAgainstQueue(t *testing.T) {
	lifecycle := sentNow(t, "lifecycle-terminate.json")
	otherGroup := strings.ReplaceAll(lifecycle, "demo-general", "someone-else")
	c, url := queueOnEmulator(t,
		lifecycle, otherGroup,
		// A warning sent just now: the drain gets its own timeout, well
		// inside the two minutes.
		sentNow(t, "spot-interruption.json"),
		string(readEvent(t, "rebalance.json")),
		string(readEvent(t, "state-change-terminated.json")),
		string(readEvent(t, "health-scheduled-change.json")), // i-...0005 is no node
		string(readEvent(t, "lifecycle-launch.json")),
		"not an event",
	)
	kube := fake.NewClientset(
		node("ip-10-0-1-1", "i-0a1b2c3d4e5f60001"), node("ip-10-0-1-2", "i-0a1b2c3d4e5f60002"),
		node("ip-10-0-1-3", "i-0a1b2c3d4e5f60003"), node("ip-10-0-1-4", "i-0a1b2c3d4e5f60004"),
		node("ip-10-0-1-9", "i-0a1b2c3d4e5f60009"),
		pod("apps", "web-1", "ip-10-0-1-1", "ReplicaSet", nil),
		pod("apps", "web-2", "ip-10-0-1-2", "ReplicaSet", nil),
		pod("apps", "web-3", "ip-10-0-1-3", "ReplicaSet", nil),
	)
	ev := &evictions{refuse: map[string]int{}}
	ev.install(kube)
	asg := &fakeASG{}
	d := newDrainer(asg, kube, c, url)

	outcomes := drainQueue(t, d)
	if len(outcomes) != 8 {
		t.Fatalf("handled %d messages, want 8: %+v", len(outcomes), outcomes)
	}
	for _, o := range outcomes {
		if !o.Deleted {
			t.Errorf("message %s (%s) not deleted: %s", o.MessageID, o.Event.DetailType, o.Error)
		}
	}
	if n := messagesLeft(t, c, url); n != 0 {
		t.Errorf("%d messages left in the queue, want 0", n)
	}
	ctx := context.Background()
	for name, gone := range map[string]bool{"ip-10-0-1-1": true, "ip-10-0-1-2": true, "ip-10-0-1-3": false, "ip-10-0-1-4": true, "ip-10-0-1-9": false} {
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if gone != apierrors.IsNotFound(err) {
			t.Errorf("node %s: deleted %v, want %v (err %v)", name, !gone, gone, err)
		}
		if name == "ip-10-0-1-3" && (err != nil || !n.Spec.Unschedulable) {
			t.Errorf("node %s of the rebalance recommendation: want cordoned, got %+v %v", name, n.Spec, err)
		}
		if name == "ip-10-0-1-9" && (err != nil || n.Spec.Unschedulable) {
			t.Errorf("node %s of the launch event was touched", name)
		}
	}
	ev.mu.Lock()
	evicted := strings.Join(ev.evicted, " ")
	ev.mu.Unlock()
	if !strings.Contains(evicted, "apps/web-1") || !strings.Contains(evicted, "apps/web-2") || strings.Contains(evicted, "apps/web-3") {
		t.Errorf("evicted %q, want web-1 (lifecycle) and web-2 (Spot), not web-3 (only cordoned)", evicted)
	}
	if len(asg.completed) != 1 {
		t.Fatalf("completed %d lifecycle actions, want 1 (not another cluster's group): %+v", len(asg.completed), asg.completed)
	}
	got := asg.completed[0]
	if aws.ToString(got.AutoScalingGroupName) != "demo-general" || aws.ToString(got.LifecycleHookName) != "kforge-drain" ||
		aws.ToString(got.InstanceId) != "i-0a1b2c3d4e5f60001" || aws.ToString(got.LifecycleActionToken) != "87654321-4321-4321-4321-210987654321" ||
		aws.ToString(got.LifecycleActionResult) != "CONTINUE" {
		t.Errorf("CompleteLifecycleAction %+v", got)
	}
}

// completeFails fails CompleteLifecycleAction a number of times, then
// answers as Auto Scaling does for an action that is no longer waiting.
type completeFails struct {
	fakeASG
	mu    sync.Mutex
	fails int
	calls int
}

func (f *completeFails) CompleteLifecycleAction(ctx context.Context, in *autoscalingCompleteInput, opts ...autoscalingOption) (*autoscalingCompleteOutput, error) {
	f.mu.Lock()
	f.calls++
	n := f.calls
	f.mu.Unlock()
	if n <= f.fails {
		return nil, errors.New("RequestError: send request failed")
	}
	if n > f.fails+1 {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "No active Lifecycle Action found with instance ID " + aws.ToString(in.InstanceId)}
	}
	return f.fakeASG.CompleteLifecycleAction(ctx, in, opts...)
}

// TestFailedEventIsRedeliveredAndHandledOnce: a message whose handling
// fails is not deleted; it comes back after the visibility timeout and is
// handled again (the node is gone by then, which is fine), and then
// deleted. A later duplicate of the same event (EventBridge delivers at
// least once) finds the action already completed and is deleted too.
func TestFailedEventIsRedeliveredAndHandledOnce(t *testing.T) {
	lifecycle := sentNow(t, "lifecycle-terminate.json")
	c, url := queueOnEmulator(t, lifecycle)
	kube := fake.NewClientset(node("ip-10-0-1-1", "i-0a1b2c3d4e5f60001"), pod("apps", "web-1", "ip-10-0-1-1", "ReplicaSet", nil))
	ev := &evictions{refuse: map[string]int{}}
	ev.install(kube)
	asg := &completeFails{fails: 1}
	d := newDrainer(&asg.fakeASG, kube, c, url)
	d.Handler.ASG = asg

	first, err := d.ReceiveOnce(context.Background())
	if err == nil || len(first) != 1 || first[0].Deleted || !strings.Contains(first[0].Error, "send request failed") {
		t.Fatalf("first receive: %+v %v, want one failed, undeleted message", first, err)
	}
	if n := messagesLeft(t, c, url); n != 1 {
		t.Fatalf("%d messages in the queue after a failure, want 1 (kept for redelivery)", n)
	}
	time.Sleep(1500 * time.Millisecond) // the test's visibility timeout is 1 s
	again := drainQueue(t, d)
	if len(again) != 1 || !again[0].Deleted || again[0].Error != "" {
		t.Fatalf("redelivery: %+v, want handled and deleted", again)
	}
	if len(asg.completed) != 1 {
		t.Errorf("completed %d times, want 1", len(asg.completed))
	}
	if n := messagesLeft(t, c, url); n != 0 {
		t.Fatalf("%d messages left, want 0", n)
	}

	// A duplicate delivery after the action completed.
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(lifecycle)}); err != nil {
		t.Fatal(err)
	}
	dup := drainQueue(t, d)
	if len(dup) != 1 || !dup[0].Deleted || dup[0].Error != "" {
		t.Fatalf("duplicate: %+v, want deleted without error", dup)
	}
	if n := messagesLeft(t, c, url); n != 0 {
		t.Errorf("%d messages left, want 0", n)
	}
}

// The Spot drain ends InterruptionMargin before EC2 takes the instance.
func TestInterruptionTimeoutKeepsTheDeadline(t *testing.T) {
	ev, err := ParseEvent(readEvent(t, "spot-interruption.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Drainer{InterruptionDrainTimeout: 90 * time.Second, InterruptionMargin: 20 * time.Second}
	for after, want := range map[time.Duration]time.Duration{
		0:                 90 * time.Second, // 120 - 20 leaves 100: the configured 90 holds
		30 * time.Second:  70 * time.Second,
		100 * time.Second: 0,
		5 * time.Minute:   0, // read late: delete the node at once
	} {
		d.Now = func() time.Time { return ev.Time.Add(after) }
		if got := d.interruptionTimeout(ev); got != want {
			t.Errorf("%v after the warning: timeout %v, want %v", after, got, want)
		}
	}
}

// A lifecycle event read late drains only for what is left of the
// heartbeat, counted from when the action began.
func TestLifecycleTimeoutKeepsTheHeartbeat(t *testing.T) {
	ev, err := ParseEvent(readEvent(t, "lifecycle-terminate.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := &Drainer{Handler: &Handler{DrainTimeout: 9 * time.Minute}}
	for after, want := range map[time.Duration]time.Duration{
		0:                9 * time.Minute,
		-time.Minute:     9 * time.Minute, // a clock behind the event's
		4 * time.Minute:  5 * time.Minute, // found by the scan or redelivered
		9 * time.Minute:  0,
		20 * time.Minute: 0,
	} {
		d.Now = func() time.Time { return ev.Time.Add(after) }
		if got := d.lifecycleTimeout(ev); got != want {
			t.Errorf("%v after the action began: timeout %v, want %v", after, got, want)
		}
	}
}

type (
	autoscalingCompleteInput  = autoscaling.CompleteLifecycleActionInput
	autoscalingCompleteOutput = autoscaling.CompleteLifecycleActionOutput
	autoscalingOption         = func(*autoscaling.Options)
)

// TestSnapshotRequestAgainstQueue: kforge's snapshot request, sent to a
// real SQS queue, is parsed, served by the drainer's Snapshot with its id
// and deleted; a drainer without Snapshot leaves it in the queue (an
// error), and a request without an id is unreadable.
func TestSnapshotRequestAgainstQueue(t *testing.T) {
	body, err := SnapshotRequest("roll-1", time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ParseEvent(body)
	if err != nil || ev.Action != ActionSnapshot || ev.Request != "roll-1" {
		t.Fatalf("ParseEvent(%s) = %+v, %v; want a snapshot request roll-1", body, ev, err)
	}
	if _, err := ParseEvent([]byte(strings.Replace(string(body), `"request":"roll-1"`, `"request":""`, 1))); err == nil {
		t.Fatal("a snapshot request without an id parsed")
	}
	c, url := queueOnEmulator(t, string(body))
	d := newDrainer(&fakeASG{}, fake.NewClientset(), c, url)
	if out, err := d.ReceiveOnce(context.Background()); err == nil || len(out) != 1 || out[0].Deleted {
		t.Fatalf("a drainer without Snapshot: %+v, %v; want an error and the message kept", out, err)
	}
	time.Sleep(1500 * time.Millisecond) // the test's visibility timeout is 1 s
	var served []string
	d.Snapshot = func(_ context.Context, request string) error {
		served = append(served, request)
		return nil
	}
	out := drainQueue(t, d)
	if len(out) != 1 || !out[0].Deleted || out[0].Error != "" || !slices.Equal(served, []string{"roll-1"}) {
		t.Fatalf("outcomes %+v, served %v; want roll-1 served once and deleted", out, served)
	}
	if n := messagesLeft(t, c, url); n != 0 {
		t.Fatalf("%d messages left, want 0", n)
	}
}

// TestRunHandlesAnInterruptionDuringALongDrain: while a lifecycle drain
// waits on a disruption budget, Run keeps receiving, so a Spot
// interruption warning that arrives later is handled within its two
// minutes, not after the drain.
func TestRunHandlesAnInterruptionDuringALongDrain(t *testing.T) {
	c, url := queueOnEmulator(t, sentNow(t, "lifecycle-terminate.json"))
	kube := fake.NewClientset(
		node("ip-10-0-1-1", "i-0a1b2c3d4e5f60001"), node("ip-10-0-1-2", "i-0a1b2c3d4e5f60002"),
		pod("apps", "db-1", "ip-10-0-1-1", "ReplicaSet", nil),
		pod("apps", "web-2", "ip-10-0-1-2", "ReplicaSet", nil),
	)
	ev := &evictions{refuse: map[string]int{"db-1": -1}}
	ev.install(kube)
	asg := &fakeASG{}
	d := newDrainer(asg, kube, c, url)
	d.Handler.DrainTimeout = 4 * time.Second
	d.Visibility = 0 // DrainTimeout + 1 min: the lifecycle message stays in flight

	defer runDrainer(d)()

	await := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 30 s", what)
			}
		}
	}
	get := func(name string) (bool, bool) {
		n, err := kube.CoreV1().Nodes().Get(context.Background(), name, metav1.GetOptions{})
		return err == nil, err == nil && n.Spec.Unschedulable
	}
	await("the lifecycle drain starts", func() bool { _, cordoned := get("ip-10-0-1-1"); return cordoned })

	spot := sentNow(t, "spot-interruption.json")
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(spot)}); err != nil {
		t.Fatal(err)
	}
	await("the interrupted node is deleted", func() bool { exists, _ := get("ip-10-0-1-2"); return !exists })
	asg.mu.Lock()
	completed := len(asg.completed)
	asg.mu.Unlock()
	if completed != 0 {
		t.Fatal("the lifecycle action completed before the interruption was handled: the interruption waited for the drain")
	}
	await("the lifecycle action completes after its drain timeout", func() bool {
		asg.mu.Lock()
		defer asg.mu.Unlock()
		return len(asg.completed) == 1
	})
}

// A Spot warning met by the API server refusing for a moment (restarting)
// is retried within its two minutes, not left to a redelivery the
// message's visibility puts minutes later, after EC2 took the instance.
func TestSpotWarningRetriedThroughARefusal(t *testing.T) {
	c, url := queueOnEmulator(t, sentNow(t, "spot-interruption.json"))
	kube := fake.NewClientset(node("ip-10-0-1-2", "i-0a1b2c3d4e5f60002"), pod("apps", "web-2", "ip-10-0-1-2", "ReplicaSet", nil))
	var refusals atomic.Int32
	refusals.Store(1)
	kube.PrependReactor("list", "pods", func(k8stesting.Action) (bool, runtime.Object, error) {
		if refusals.Add(-1) >= 0 {
			return true, nil, apierrors.NewServiceUnavailable("the API server is restarting")
		}
		return false, nil, nil
	})
	ev := &evictions{refuse: map[string]int{}}
	ev.install(kube)
	d := newDrainer(&fakeASG{}, kube, c, url)
	d.InterruptionDrainTimeout = 10 * time.Second
	out, err := d.ReceiveOnce(context.Background())
	if err != nil || len(out) != 1 || !out[0].Deleted || out[0].Error != "" {
		t.Fatalf("the warning: %+v, %v; want it handled and deleted on its first receive", out, err)
	}
	if _, err := kube.CoreV1().Nodes().Get(context.Background(), "ip-10-0-1-2", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the node after the warning: %v, want deleted", err)
	}
	if !slices.Equal(ev.evicted, []string{"apps/web-2"}) {
		t.Errorf("evicted %v, want apps/web-2", ev.evicted)
	}
}

// A burst of lifecycle drains held by budgets, more than Run drains at
// once, keeps no Spot warning from its slot: the warning is received and
// handled while every drain still waits.
func TestRunHandlesAnInterruptionBehindAFullPoolOfDrains(t *testing.T) {
	lifecycle := sentNow(t, "lifecycle-terminate.json")
	objs := []runtime.Object{node("ip-spot", "i-0a1b2c3d4e5f60002"), pod("apps", "web-spot", "ip-spot", "ReplicaSet", nil)}
	held := map[string]int{}
	var bodies []string
	for i := range maxEventsInFlight + 1 {
		id, name := fmt.Sprintf("i-0a1b2c3d4e5f7%04d", i), fmt.Sprintf("ip-held-%d", i)
		bodies = append(bodies, strings.ReplaceAll(lifecycle, "i-0a1b2c3d4e5f60001", id))
		objs = append(objs, node(name, id), pod("apps", "db-"+name, name, "ReplicaSet", nil))
		held["db-"+name] = -1
	}
	c, url := queueOnEmulator(t, bodies...)
	kube := fake.NewClientset(objs...)
	(&evictions{refuse: held}).install(kube)
	d := newDrainer(&fakeASG{}, kube, c, url)
	d.Handler.DrainTimeout = 5 * time.Minute
	d.Visibility = 0
	d.InterruptionDrainTimeout = 90 * time.Second
	defer runDrainer(d)()
	cordoned := func() int {
		nodes, err := kube.CoreV1().Nodes().List(context.Background(), metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, node := range nodes.Items {
			if node.Spec.Unschedulable {
				n++
			}
		}
		return n
	}
	for deadline := time.Now().Add(30 * time.Second); cordoned() < maxEventsInFlight; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d drains started within 30 s, want %d", cordoned(), maxEventsInFlight)
		}
	}
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(sentNow(t, "spot-interruption.json"))}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := kube.CoreV1().Nodes().Get(context.Background(), "ip-spot", metav1.GetOptions{}); apierrors.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the interrupted node was not handled within 30 s while the drains waited: it waited for a drain's slot")
		}
	}
}

// runDrainer runs d until the returned stop is called, which waits for it.
func runDrainer(d *Drainer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	return func() {
		cancel()
		<-done
	}
}

// A pool added by an up after the drainer started: its group's lifecycle
// action reads the groups again (the new cluster.json) and is drained and
// completed, not dropped as another cluster's. A failed read leaves the
// message in the queue, and another cluster's group is still skipped.
func TestLifecycleOfAPoolAddedAfterTheStart(t *testing.T) {
	lifecycle := sentNow(t, "lifecycle-terminate.json")
	added := strings.ReplaceAll(lifecycle, "demo-general", "demo-batch")
	foreign := strings.ReplaceAll(lifecycle, "demo-general", "someone-else")
	c, url := queueOnEmulator(t, added)
	kube := fake.NewClientset(node("ip-10-0-1-1", "i-0a1b2c3d4e5f60001"), pod("apps", "web-1", "ip-10-0-1-1", "ReplicaSet", nil))
	asg := &fakeASG{}
	d := newDrainer(asg, kube, c, url)
	var reads atomic.Int32
	var readFails atomic.Bool
	readFails.Store(true)
	d.Handler.ReloadGroups = func(context.Context) ([]string, error) {
		reads.Add(1)
		if readFails.Load() {
			return nil, errors.New("GetObject cluster.json: AccessDenied")
		}
		return []string{"demo-batch", "demo-controller", "demo-general"}, nil
	}

	out, _ := d.ReceiveOnce(context.Background())
	if len(out) != 1 || out[0].Deleted || !strings.Contains(out[0].Error, "AccessDenied") || len(asg.completed) != 0 {
		t.Fatalf("with cluster.json unreadable: %+v, completed %+v; want the message kept for another try", out, asg.completed)
	}
	readFails.Store(false)
	time.Sleep(d.Visibility)
	outcomes := drainQueue(t, d)
	if len(outcomes) != 1 || !outcomes[0].Deleted || outcomes[0].Skipped != "" {
		t.Fatalf("the new pool's lifecycle action: %+v", outcomes)
	}
	if len(asg.completed) != 1 || aws.ToString(asg.completed[0].AutoScalingGroupName) != "demo-batch" {
		t.Fatalf("completed %+v, want demo-batch's action", asg.completed)
	}
	if _, err := kube.CoreV1().Nodes().Get(context.Background(), "ip-10-0-1-1", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the new pool's node was not drained and deleted: %v", err)
	}

	before := reads.Load()
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(foreign)}); err != nil {
		t.Fatal(err)
	}
	outcomes = drainQueue(t, d)
	if len(outcomes) != 1 || !outcomes[0].Deleted || !strings.Contains(outcomes[0].Skipped, "not this cluster's") || len(asg.completed) != 1 {
		t.Fatalf("another cluster's group: %+v, completed %+v", outcomes, asg.completed)
	}
	if reads.Load() != before+1 {
		t.Errorf("an unknown group read the groups %d times, want once", reads.Load()-before)
	}
}
