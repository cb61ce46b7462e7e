package addons

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// Traefik is the only endpoint of its node behind the NLB
// (externalTrafficPolicy Local): an update starts the new pod before the
// old one stops, and Cluster Autoscaler leaves the pod running until the
// instance, and with it the NLB target, is gone.
func TestTraefikKeepsServingThroughRolloutsAndScaleDown(t *testing.T) {
	ds := renderedTraefik(t)

	s := ds.Spec.UpdateStrategy
	if s.Type != appsv1.RollingUpdateDaemonSetStrategyType || s.RollingUpdate == nil ||
		s.RollingUpdate.MaxSurge == nil || s.RollingUpdate.MaxSurge.String() != "1" ||
		s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.String() != "0" {
		t.Errorf("update strategy %+v, want RollingUpdate with maxSurge 1 and maxUnavailable 0", s)
	}
	// A surge pod shares its node with the old one: a host port would keep
	// it Pending for good.
	pod := ds.Spec.Template.Spec
	if pod.HostNetwork {
		t.Error("traefik uses the host network; a surge pod could not bind its ports")
	}
	for _, c := range pod.Containers {
		for _, p := range c.Ports {
			if p.HostPort != 0 {
				t.Errorf("container %s port %s has hostPort %d; a surge pod could not schedule", c.Name, p.Name, p.HostPort)
			}
		}
	}

	// A full node (Cluster Autoscaler packs them) makes room for the surge
	// pod only if it outranks the workloads.
	if pod.PriorityClassName != "system-cluster-critical" {
		t.Errorf("priority class %q, want system-cluster-critical", pod.PriorityClassName)
	}

	const key = "cluster-autoscaler.kubernetes.io/enable-ds-eviction"
	if got, ok := ds.Spec.Template.Annotations[key]; !ok || got != "false" {
		t.Errorf("pod template annotation %s = %q (set %v), want \"false\"", key, got, ok)
	}
	if _, ok := ds.Annotations[key]; ok {
		t.Errorf("%s is read from the pods, not the DaemonSet object", key)
	}
}

// An Ingress gets the domain as its address: tools that wait for one
// (kubectl wait, Argo CD's health, external-dns) would otherwise wait for
// ever, since Traefik copies a NodePort Service's address only from the
// nodes' ExternalIPs, which kforge's nodes do not have.
func TestTraefikPublishesTheDomainAsIngressAddress(t *testing.T) {
	ds := renderedTraefik(t)
	args := ds.Spec.Template.Spec.Containers[0].Args
	if !slices.Contains(args, "--providers.kubernetesingress.ingressendpoint.hostname=dev.example.com") {
		t.Errorf("args %v do not publish the domain as the Ingress address", args)
	}
	for _, a := range args {
		if strings.HasPrefix(a, "--providers.kubernetesingress.ingressendpoint.publishedservice") {
			t.Errorf("%s: a NodePort Service gives Ingresses no address on nodes without ExternalIPs", a)
		}
	}
}

// renderedTraefik is the rendered Traefik DaemonSet.
func renderedTraefik(t *testing.T) *appsv1.DaemonSet {
	t.Helper()
	manifests, err := Render(testConfig())
	if err != nil {
		t.Fatal(err)
	}
	ds, ok := decodeStrict(t, manifests)["DaemonSet/traefik"].(*appsv1.DaemonSet)
	if !ok {
		t.Fatal("no DaemonSet traefik")
	}
	return ds
}
