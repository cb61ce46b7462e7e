package cluster

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// The Node of an instance is found by spec.providerID, and only a Ready
// condition that is True counts.
func TestNodeReadyByProviderID(t *testing.T) {
	node := func(name, providerID string, ready corev1.ConditionStatus) *corev1.Node {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: corev1.NodeSpec{ProviderID: providerID}}
		if ready != "" {
			n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}}
		}
		return n
	}
	k := kubeNodes{client: fake.NewClientset(
		node("ip-10-40-1-5.ec2.internal", "aws:///us-east-1a/i-0aaa", corev1.ConditionTrue),
		node("ip-10-40-1-6.ec2.internal", "aws:///us-east-1a/i-0bbb", corev1.ConditionFalse),
		node("ip-10-40-1-7.ec2.internal", "aws:///us-east-1b/i-0ccc", ""),
		node("ip-10-40-1-8.ec2.internal", "aws:///us-east-1b/i-0aaab", corev1.ConditionTrue),
	)}
	for id, want := range map[string]bool{"i-0aaa": true, "i-0bbb": false, "i-0ccc": false, "i-0ddd": false, "i-0aaab": true} {
		got, err := k.NodeReady(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("NodeReady(%s) = %v, want %v", id, got, want)
		}
	}
}
