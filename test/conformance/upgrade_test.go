package conformance

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/node"
)

// 10. The upgraded control plane's return to service, with the real
// kubectl: the agent's waits (internal/node BackInServiceKubectl) are met
// by a Node whose kubelet reports the version and is Ready and by a Ready
// control-plane pod on it, and the uncordon lifts the upgrade's cordon.
func checkBackInService(t *testing.T, e *env, _ artifacts) {
	heartbeat(t, e, nodeName, workerName)
	if _, err := e.kubectl("cordon", nodeName); err != nil {
		t.Fatalf("cordoning %s as the upgrade's drain does:\n%v", nodeName, err)
	}
	// The API server's mirror pod, as the kubelet reports it.
	mirror := map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{"name": "kube-apiserver-" + nodeName, "namespace": "kube-system",
			"labels": map[string]string{"component": "kube-apiserver", "tier": "control-plane"}},
		"spec": map[string]any{"nodeName": nodeName, "tolerations": []map[string]string{{"operator": "Exists"}},
			"containers": []map[string]string{{"name": "kube-apiserver", "image": "registry.k8s.io/kube-apiserver:v" + e.bin.Version}}},
	}
	raw, _ := json.Marshal(mirror)
	if _, err := e.kubectl("create", "-f", e.write("mirror-pod.json", raw)); err != nil {
		t.Fatalf("creating the API server's mirror pod:\n%v", err)
	}
	reportPodReady(t, e, "kube-apiserver-"+nodeName)
	for _, args := range node.BackInServiceKubectl(nodeName, e.bin.Version) {
		if _, err := e.kubectl(args...); err != nil {
			t.Fatalf("kubectl %s (the control plane's return to service after its upgrade):\n%v", strings.Join(args, " "), err)
		}
	}
	out, err := e.kubectl("get", "node", nodeName, "-o", "jsonpath={.spec.unschedulable}")
	if err != nil || strings.TrimSpace(out) == "true" {
		t.Errorf("node %s after the return to service: unschedulable %q (%v), want uncordoned", nodeName, out, err)
	}
}

// reportPodReady writes the status a kubelet would report for a running,
// Ready pod in kube-system (no kubelet runs here).
func reportPodReady(t *testing.T, e *env, pod string) {
	t.Helper()
	status, _ := json.Marshal(map[string]any{"status": map[string]any{"phase": "Running",
		"conditions": []map[string]string{{"type": "Ready", "status": "True"}}}})
	if _, err := e.kubectl("patch", "pod", "-n", "kube-system", pod, "--subresource=status", "--type=merge", "-p", string(status)); err != nil {
		t.Fatalf("reporting %s Ready:\n%v", pod, err)
	}
}
