package addons

import (
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// CoreDNSSelector is the label kubeadm's CoreDNS Deployment gives its pods
// (cmd/kubeadm/app/phases/addons/dns), and finds its Deployment by.
var CoreDNSSelector = map[string]string{"k8s-app": "kube-dns"}

// corednsBudget lets drains evict kubeadm's CoreDNS replicas one at a time.
// kubeadm deploys two with only a preferred anti-affinity and no budget, so
// both often share a node, and every drain kforge and Cluster Autoscaler
// run (a roll, a scale-in, a Spot interruption, the control plane's
// upgrade) evicted them together: the cluster had no DNS until a
// replacement was Ready. With the budget the second eviction waits for
// that. Cluster Autoscaler also reads it when it plans a scale-in, and no
// longer removes two nodes that hold the only two replicas at once.
func corednsBudget() runtime.Object {
	return &policyv1.PodDisruptionBudget{
		TypeMeta:   typeMeta("policy/v1", "PodDisruptionBudget"),
		ObjectMeta: meta("coredns", "kube-system", map[string]string{"app.kubernetes.io/name": "coredns"}),
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: CoreDNSSelector},
			// A replica that never turns Ready (a bad Corefile, a node
			// without a route to the API) may still be evicted, so it cannot
			// hold a drain until its timeout.
			UnhealthyPodEvictionPolicy: ptr(policyv1.AlwaysAllow),
		},
	}
}
