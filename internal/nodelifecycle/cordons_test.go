package nodelifecycle

import (
	"context"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// The drainer lifts only its own cordons: a rebalance recommendation's
// once Auto Scaling has left the instance running for RebalanceCordonLimit,
// a scheduled change's when the Health event closes; an operator's stays.
func TestCordonsOfEventsAreLifted(t *testing.T) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
	pid := func(id string) string { return "aws:///eu-west-1a/" + id }
	held := nodeWith("held", pid("i-0a1b2c3d4e5f60009"), true, time.Hour, t0)
	held.Spec.Unschedulable = true
	kube := fake.NewClientset(
		nodeWith("rebalanced", pid("i-0a1b2c3d4e5f60003"), true, time.Hour, t0),
		nodeWith("retiring", pid("i-0a1b2c3d4e5f60005"), true, time.Hour, t0),
		held,
	)
	now := t0
	d := &Drainer{Handler: &Handler{Kube: kube}, Now: func() time.Time { return now }}
	act := func(body string) {
		t.Helper()
		ev, err := ParseEvent([]byte(body))
		if err != nil {
			t.Fatal(err)
		}
		if err := d.act(ctx, &Outcome{Event: ev}); err != nil {
			t.Fatal(err)
		}
	}
	node := func(name string) *corev1.Node {
		t.Helper()
		n, err := kube.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	cordonedFor := func(name string) string {
		n := node(name)
		if !n.Spec.Unschedulable {
			return ""
		}
		return n.Annotations[CordonedForAnnotation]
	}

	health := string(readEvent(t, "health-scheduled-change.json"))
	act(string(readEvent(t, "rebalance.json")))
	act(health)
	if got := cordonedFor("rebalanced"); got != CordonRebalance {
		t.Errorf("rebalanced node cordoned for %q, want %q", got, CordonRebalance)
	}
	if got := cordonedFor("retiring"); got != CordonScheduledChange {
		t.Errorf("retiring node cordoned for %q, want %q", got, CordonScheduledChange)
	}

	// Within the limit the rebalance cordon stays; past it, it is lifted.
	now = t0.Add(RebalanceCordonLimit - time.Minute)
	if lifted, err := d.Handler.LiftStaleRebalanceCordons(ctx, now); err != nil || len(lifted) != 0 {
		t.Errorf("within the limit: lifted %v (%v), want none", lifted, err)
	}
	now = t0.Add(RebalanceCordonLimit + time.Minute)
	if lifted, err := d.Handler.LiftStaleRebalanceCordons(ctx, now); err != nil || strings.Join(lifted, ",") != "rebalanced" {
		t.Errorf("past the limit: lifted %v (%v), want rebalanced only", lifted, err)
	}
	if n := node("rebalanced"); n.Spec.Unschedulable || n.Annotations[CordonedForAnnotation] != "" || n.Annotations[CordonedAtAnnotation] != "" {
		t.Errorf("rebalanced node after the lift: unschedulable %v, annotations %v", n.Spec.Unschedulable, n.Annotations)
	}
	if cordonedFor("retiring") != CordonScheduledChange {
		t.Error("the scheduled change's cordon was lifted before the event closed")
	}

	// The Health event closes: its node is uncordoned.
	act(strings.Replace(health, `"statusCode": "upcoming"`, `"statusCode": "closed"`, 1))
	if node("retiring").Spec.Unschedulable {
		t.Error("retiring node still cordoned after its Health event closed")
	}

	// A node cordoned for a rebalance recommendation whose termination then
	// begins: the drain takes the cordon over, so no lift undoes it mid-drain.
	act(string(readEvent(t, "rebalance.json")))
	if err := d.Handler.cordon(ctx, "rebalanced"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * RebalanceCordonLimit)
	if lifted, err := d.Handler.LiftStaleRebalanceCordons(ctx, now); err != nil || len(lifted) != 0 {
		t.Errorf("a draining node's cordon lifted: %v (%v)", lifted, err)
	}
	if !node("rebalanced").Spec.Unschedulable {
		t.Error("the draining node is schedulable")
	}

	// An operator's cordon is neither taken over nor lifted.
	h := d.Handler
	if err := h.cordonFor(ctx, node("held"), CordonRebalance, t0); err != nil {
		t.Fatal(err)
	}
	if got := node("held").Annotations[CordonedForAnnotation]; got != "" {
		t.Errorf("an operator's cordon was claimed for %q", got)
	}
	for _, why := range []string{CordonRebalance, CordonScheduledChange} {
		if lifted, err := h.uncordonIf(ctx, node("held"), why); err != nil || lifted {
			t.Errorf("an operator's cordon lifted for %s (%v)", why, err)
		}
	}
	if !node("held").Spec.Unschedulable {
		t.Error("the operator's node is schedulable")
	}
}
