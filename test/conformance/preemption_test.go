package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// 20. Traefik's pod finds room on a full worker: with a workload's pod
// taking every CPU the worker has left, Traefik's replacement pod there
// is not left Pending (Cluster Autoscaler adds no node for a DaemonSet's
// pod): the real scheduler nominates the worker for it and preempts the
// workload's pod.
func checkTraefikPreempts(t *testing.T, e *env, _ artifacts) {
	heartbeat(t, e, nodeName, workerName)

	free := freeCPU(t, e, workerName)
	const filler = "kforge-conformance-filler"
	fillerPod, _ := json.Marshal(map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": filler, "namespace": "default"},
		"spec": map[string]any{"nodeName": workerName, "containers": []map[string]any{{
			"name": "app", "image": "registry.k8s.io/pause:3.10.1",
			"resources": map[string]any{"requests": map[string]string{"cpu": free.String()}},
		}}},
	})
	if _, err := e.kubectl("create", "-f", e.write("filler.json", fillerPod)); err != nil {
		t.Fatalf("creating a workload pod that fills %s (%s CPU):\n%v", workerName, free.String(), err)
	}
	defer func() { _, _ = e.kubectl("delete", "pod", "-n", "default", filler, "--force", "--grace-period=0") }()
	old := traefikPodOn(t, e, workerName)
	// Without a kubelet a graceful deletion never completes: force it, as
	// the kubelet would confirm it.
	if _, err := e.kubectl("delete", "pod", "-n", "traefik", old, "--force", "--grace-period=0"); err != nil {
		t.Fatalf("deleting Traefik's pod %s:\n%v", old, err)
	}
	var last string
	err := waitFor(2*time.Minute, func() error {
		out, err := e.kubectl("get", "pods", "-n", "traefik", "-o", "json")
		if err != nil {
			return err
		}
		var l corev1.PodList
		if err := json.Unmarshal([]byte(out), &l); err != nil {
			return err
		}
		var states []string
		for _, p := range l.Items {
			if p.Name == old || !onlyFor(p, workerName) {
				continue
			}
			if p.Status.NominatedNodeName == workerName || p.Spec.NodeName == workerName {
				return nil
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodScheduled {
					states = append(states, p.Name+": "+c.Message)
				}
			}
		}
		last = strings.Join(states, "; ")
		return fmt.Errorf("no Traefik pod nominated for or bound to %s: %s", workerName, last)
	})
	if err != nil {
		t.Fatalf("Traefik's pod did not make room on a full worker: %v", err)
	}
	out, err := e.kubectl("get", "pod", "-n", "default", filler, "-o", "jsonpath={.metadata.deletionTimestamp}")
	if err != nil || strings.TrimSpace(out) == "" {
		t.Errorf("the workload's pod was not preempted (deletionTimestamp %q, %v)", out, err)
	}
}

// freeCPU is the CPU the node's allocatable leaves after the requests of
// the pods bound to it.
func freeCPU(t *testing.T, e *env, node string) resource.Quantity {
	t.Helper()
	out, err := e.kubectl("get", "node", node, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var n corev1.Node
	if err := json.Unmarshal([]byte(out), &n); err != nil {
		t.Fatal(err)
	}
	free := n.Status.Allocatable.Cpu().DeepCopy()
	out, err = e.kubectl("get", "pods", "-A", "--field-selector", "spec.nodeName="+node, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var l corev1.PodList
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err)
	}
	for _, p := range l.Items {
		for _, c := range p.Spec.Containers {
			free.Sub(*c.Resources.Requests.Cpu())
		}
	}
	if free.Sign() <= 0 {
		t.Fatalf("%s has no CPU left before the check fills it (%s)", node, free.String())
	}
	return free
}

// traefikPodOn names Traefik's pod bound to node.
func traefikPodOn(t *testing.T, e *env, node string) string {
	t.Helper()
	out, err := e.kubectl("get", "pods", "-n", "traefik", "--field-selector", "spec.nodeName="+node, "-o", "jsonpath={.items[*].metadata.name}")
	if err != nil {
		t.Fatal(err)
	}
	names := strings.Fields(out)
	if len(names) != 1 {
		t.Fatalf("Traefik pods on %s: %v, want one", node, names)
	}
	return names[0]
}

// onlyFor reports whether a DaemonSet's pod is meant for node: its
// controller pins each pod by a required node affinity on the node's name.
func onlyFor(p corev1.Pod, node string) bool {
	a := p.Spec.Affinity
	if a == nil || a.NodeAffinity == nil || a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		return false
	}
	for _, term := range a.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms {
		for _, f := range term.MatchFields {
			if f.Key == "metadata.name" && len(f.Values) == 1 && f.Values[0] == node {
				return true
			}
		}
	}
	return false
}
