package conformance

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/addons"
)

// 19. kforge's CoreDNS budget covers the CoreDNS the real kubeadm deploys
// with kforge's configuration, and the API server's eviction logic holds a
// drain to one replica at a time: with both Ready one eviction passes and
// the next is refused until a replacement is Ready; a replica that is not
// Ready never holds a drain.
func checkCoreDNSBudget(t *testing.T, e *env, a artifacts) {
	heartbeat(t, e, nodeName, workerName)
	if _, err := e.run(nil, "kubeadm", "init", "phase", "addon", "coredns", "--config", e.write("init.yaml", a.init)); err != nil {
		t.Fatalf("kubeadm init phase addon coredns with kforge's init.yaml:\n%v", err)
	}
	var selector []string
	for k, v := range addons.CoreDNSSelector {
		selector = append(selector, k+"="+v)
	}
	var pods []string
	err := waitFor(2*time.Minute, func() error {
		out, err := e.kubectl("get", "pods", "-n", "kube-system", "-l", strings.Join(selector, ","),
			"-o", `jsonpath={range .items[?(@.spec.nodeName)]}{.metadata.name}{"\n"}{end}`)
		if err != nil {
			return err
		}
		pods = strings.Fields(out)
		if len(pods) != 2 {
			return fmt.Errorf("%d scheduled CoreDNS pods selected by the budget's selector %v, want kubeadm's 2", len(pods), selector)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		reportPodReady(t, e, p)
	}
	waitForBudget(t, e, 2, 1)

	if err := evict(e, pods[0]); err != nil {
		t.Fatalf("evicting the first of two Ready CoreDNS replicas: %v", err)
	}
	waitForBudget(t, e, 2, 0)
	err = evict(e, pods[1])
	if err == nil || !strings.Contains(err.Error(), "disruption budget") {
		t.Fatalf("evicting the last Ready CoreDNS replica before its peer's replacement is Ready: %v, want a refusal by the budget", err)
	}
	// The same replica failing its readiness probe no longer holds the drain.
	status, _ := json.Marshal(map[string]any{"status": map[string]any{"phase": "Running",
		"conditions": []map[string]string{{"type": "Ready", "status": "False"}}}})
	if _, err := e.kubectl("patch", "pod", "-n", "kube-system", pods[1], "--subresource=status", "--type=merge", "-p", string(status)); err != nil {
		t.Fatalf("reporting %s not Ready:\n%v", pods[1], err)
	}
	waitForBudget(t, e, 2, 0)
	if err := evict(e, pods[1]); err != nil {
		t.Errorf("evicting a CoreDNS replica that is not Ready: %v, want it evicted (unhealthyPodEvictionPolicy AlwaysAllow)", err)
	}
}

// waitForBudget waits until the disruption controller reports the CoreDNS
// budget with the expected pods and disruptions allowed.
func waitForBudget(t *testing.T, e *env, expected, allowed int) {
	t.Helper()
	var last string
	err := waitFor(2*time.Minute, func() error {
		out, err := e.kubectl("get", "pdb", "-n", "kube-system", "coredns", "-o", "jsonpath={.status.expectedPods} {.status.currentHealthy} {.status.disruptionsAllowed}")
		if err != nil {
			return err
		}
		last = out
		var exp, healthy, got int
		if _, err := fmt.Sscan(out, &exp, &healthy, &got); err != nil || exp != expected || got != allowed {
			return fmt.Errorf("budget status (expected, healthy, allowed) %q, want expected %d and %d allowed", out, expected, allowed)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("the disruption controller's count of the CoreDNS budget: %v (last %q)", err, last)
	}
}

// evict asks the API server to evict a kube-system pod, as a drain does.
func evict(e *env, pod string) error {
	body, _ := json.Marshal(map[string]any{"apiVersion": "policy/v1", "kind": "Eviction",
		"metadata": map[string]string{"name": pod, "namespace": "kube-system"}})
	_, err := e.kubectl("create", "--raw", "/api/v1/namespaces/kube-system/pods/"+pod+"/eviction", "-f", e.write("eviction-"+pod+".json", body))
	return err
}
