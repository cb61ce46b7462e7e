package node

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// A control plane that its group replaced restores a snapshot holding the
// previous control plane's Node and workers terminated since, all Ready by
// the snapshot. Before the CNI phase, whose Helm upgrade would wait for
// them for ever, it deletes those whose instance no longer runs; a running
// worker's, one too young to judge and its own stay. The first control
// plane, which restored nothing, lists no Nodes.
func TestRestoredControlPlaneDeletesTheNodesOfGoneInstancesBeforeTheCNI(t *testing.T) {
	c := newCloud(t)
	first := c.bootstrapController(t, "first", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	if first.ran("kubectl --kubeconfig " + adminConf + " get nodes") {
		t.Error("the first control plane, which restored nothing, listed the cluster's nodes")
	}

	now := t0.Add(48 * time.Hour)
	restoredNode := func(name string, created time.Time) corev1.Node {
		return corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, CreationTimestamp: metav1.NewTime(created)},
			Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}},
		}
	}
	const (
		previous = "ip-10-0-1-10.eu-west-1.compute.internal"
		self     = "ip-10-0-3-30.eu-west-1.compute.internal"
		running  = "ip-10-0-2-20.eu-west-1.compute.internal"
		gone     = "ip-10-0-2-21.eu-west-1.compute.internal"
		young    = "ip-10-0-2-22.eu-west-1.compute.internal"
	)
	h := newRecorder(t, "second")
	h.nodes = []corev1.Node{
		restoredNode(previous, t0), restoredNode(running, t0), restoredNode(gone, t0.Add(time.Hour)),
		restoredNode(young, now.Add(-time.Minute)), restoredNode(self, now.Add(-10*time.Minute)),
	}
	a := c.controller(h, "10.0.3.30", "i-0cccccccccccccccc", fixedClock(now))
	a.Nodes = nodesByName{running: {ID: "i-0ddddddddddddddd0", PrivateDNS: running}, self: {ID: "i-0cccccccccccccccc", PrivateDNS: self}}
	if err := a.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	deleteNode := "kubectl --kubeconfig " + adminConf + " delete node "
	h.assertOrder(t, "kubeadm init", deleteNode+previous, "helm-sdk install-or-upgrade")
	h.assertOrder(t, deleteNode+gone, "helm-sdk install-or-upgrade")
	var left []string
	for _, n := range h.nodes {
		left = append(left, n.Name)
	}
	slices.Sort(left)
	if want := []string{running, young, self}; !slices.Equal(left, want) {
		t.Errorf("nodes left %v, want %v:\n%s", left, want, strings.Join(h.commands(), "\n"))
	}
}
