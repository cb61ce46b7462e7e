package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

// The add-ons on a lab cluster (part of the Up scenario). The control
// plane's agent applies every add-on it applies on AWS but what cannot come
// from offline (docs/LAB.md). Their images cannot be pulled here, so the
// checks are that every object the agent applied exists in the API server
// and that every pod of every add-on workload is scheduled (has a node),
// not that it runs.

// addonsApplied is the manifest the agent applies (internal/node).
const addonsApplied = "/var/lib/kforge/addons/kforge-addons.yaml"

// addonWorkloads are the workloads kforge's add-ons run, and kubeadm's
// CoreDNS; each must be there with every pod scheduled.
var addonWorkloads = []string{
	"Deployment kube-system/cluster-autoscaler",
	"Deployment kube-system/efs-csi-controller",
	"DaemonSet kube-system/efs-csi-node",
	"Deployment kube-system/metrics-server",
	"DaemonSet traefik/traefik",
	"Deployment kube-system/coredns",
}

func checkAddons(t *testing.T, c *cluster) {
	t.Helper()
	ctx := context.Background()
	_, n, err := c.controller(ctx)
	if err != nil || n == nil {
		t.Fatalf("add-ons: no control-plane node: %v", err)
	}
	waitFor(t, 5*time.Minute, "the control plane applied the add-ons (its marker /var/lib/kforge/addons-*.done)", func() (bool, string, error) {
		out, err := n.Exec(ctx, "sh", "-c", "ls /var/lib/kforge/addons-*.done")
		return err == nil, out, nil
	})
	applied, err := n.Exec(ctx, "cat", addonsApplied)
	if err != nil {
		t.Fatalf("reading %s on the control plane: %v", addonsApplied, err)
	}
	var want []string
	for _, doc := range strings.Split(applied, "\n---\n") {
		var u unstructured.Unstructured
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%s: %v", addonsApplied, err)
		}
		if u.GetKind() == "" {
			continue
		}
		if strings.HasSuffix(u.GroupVersionKind().Group, "cilium.io") {
			t.Errorf("the lab applied %s %s, a Cilium kind, without Cilium", u.GetKind(), u.GetName())
		}
		want = append(want, objKey(u.GetKind(), u.GetNamespace(), u.GetName()))
	}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "admin.conf")
	if err := c.adminKubeconfig(ctx, n, kubeconfig); err != nil {
		t.Fatal(err)
	}
	manifest := filepath.Join(dir, "addons.yaml")
	if err := os.WriteFile(manifest, []byte(applied), 0o600); err != nil {
		t.Fatal(err)
	}
	// Every object the agent applied, read back from the API server.
	out, err := c.kubectl(ctx, kubeconfig, "get", "-f", manifest, "-o", "json")
	if err != nil {
		t.Fatalf("the add-ons' objects are not all in the API server: %v", err)
	}
	var list struct{ Items []unstructured.Unstructured }
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("kubectl get -f: %v", err)
	}
	got := map[string]bool{}
	for _, u := range list.Items {
		got[objKey(u.GetKind(), u.GetNamespace(), u.GetName())] = true
	}
	for _, k := range want {
		if !got[k] {
			t.Errorf("add-on object %s was applied but is not in the API server", k)
		}
	}
	t.Logf("add-ons: all %d objects the control plane applied are in the API server", len(want))

	// Every workload's pods exist and are scheduled; they need not run.
	for _, w := range addonWorkloads {
		kind, ref, _ := strings.Cut(w, " ")
		ns, name, _ := strings.Cut(ref, "/")
		if kind != "Deployment" || name != "coredns" {
			if !got[objKey(kind, ns, name)] {
				t.Errorf("add-on workload %s is not among the objects the control plane applied", w)
				continue
			}
		}
		var summary string
		waitFor(t, 5*time.Minute, "add-on "+w+": every pod scheduled", func() (bool, string, error) {
			ok, s, err := scheduled(ctx, c, kubeconfig, kind, ns, name)
			summary = s
			return ok, s, err
		})
		t.Logf("add-on %s: %s", w, summary)
	}
	// kforge's CoreDNS budget selects kubeadm's two replicas, and allows one
	// disruption fewer than are Ready. The lab's replicas run but are never
	// Ready: without kube-proxy or Cilium nothing routes the API's Service
	// address, which CoreDNS's kubernetes plugin waits on; conformance
	// check 19 covers the Ready case.
	var budget string
	waitFor(t, 5*time.Minute, "the CoreDNS budget selecting both replicas", func() (bool, string, error) {
		out, err := c.kubectl(ctx, kubeconfig, "-n", "kube-system", "get", "pdb", "coredns",
			"-o", "jsonpath={.status.expectedPods} {.status.currentHealthy} {.status.disruptionsAllowed}")
		budget = out
		var expected, healthy, allowed int
		if _, serr := fmt.Sscan(out, &expected, &healthy, &allowed); err != nil || serr != nil {
			return false, out, nil
		}
		return expected == 2 && allowed == max(healthy-1, 0), "expected, healthy, allowed: " + out, nil
	})
	t.Logf("add-on budget kube-system/coredns (expected, healthy, allowed): %s", budget)
}

func objKey(kind, ns, name string) string {
	if ns == "" {
		return kind + " " + name
	}
	return kind + " " + ns + "/" + name
}

// scheduled reports whether the workload wants at least one pod, has as
// many as it wants, and every one of them has a node; the summary names
// each pod's node and why it does not run, if it does not.
func scheduled(ctx context.Context, c *cluster, kubeconfig, kind, ns, name string) (bool, string, error) {
	out, err := c.kubectl(ctx, kubeconfig, "-n", ns, "get", strings.ToLower(kind)+"."+appsv1.GroupName, name, "-o", "json")
	if err != nil {
		return false, err.Error(), nil
	}
	var sel *metav1.LabelSelector
	var want int
	switch kind {
	case "Deployment":
		var d appsv1.Deployment
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			return false, "", err
		}
		sel, want = d.Spec.Selector, 1
		if d.Spec.Replicas != nil {
			want = int(*d.Spec.Replicas)
		}
	case "DaemonSet":
		var d appsv1.DaemonSet
		if err := json.Unmarshal([]byte(out), &d); err != nil {
			return false, "", err
		}
		sel, want = d.Spec.Selector, int(d.Status.DesiredNumberScheduled)
	default:
		return false, "", fmt.Errorf("kind %s is not a workload", kind)
	}
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil || s.Empty() || s.String() == labels.Nothing().String() {
		return false, "", fmt.Errorf("%s %s/%s: selector %v: %v", kind, ns, name, sel, err)
	}
	out, err = c.kubectl(ctx, kubeconfig, "-n", ns, "get", "pods", "-l", s.String(), "-o", "json")
	if err != nil {
		return false, err.Error(), nil
	}
	var pods corev1.PodList
	if err := json.Unmarshal([]byte(out), &pods); err != nil {
		return false, "", err
	}
	var parts []string
	unscheduled := 0
	for _, p := range pods.Items {
		if p.DeletionTimestamp != nil {
			continue
		}
		state := string(p.Status.Phase)
		for _, cs := range p.Status.ContainerStatuses {
			if cs.State.Waiting != nil {
				state = cs.State.Waiting.Reason
			}
		}
		if p.Spec.NodeName == "" {
			unscheduled++
			state = "unscheduled"
			for _, cond := range p.Status.Conditions {
				if cond.Type == corev1.PodScheduled && cond.Status != corev1.ConditionTrue {
					state += ": " + cond.Message
				}
			}
		}
		parts = append(parts, fmt.Sprintf("%s on %q (%s)", p.Name, p.Spec.NodeName, state))
	}
	sort.Strings(parts)
	var b bytes.Buffer
	fmt.Fprintf(&b, "%d pods, want %d: %s", len(parts), want, strings.Join(parts, "; "))
	if unscheduled > 0 {
		// Say which taints stand in the way.
		out, err := c.kubectl(ctx, kubeconfig, "get", "nodes", "-o", `jsonpath={range .items[*]}{.metadata.name}{" "}{.spec.taints[*].key}{"; "}{end}`)
		if err == nil {
			fmt.Fprintf(&b, " (node taints: %s)", strings.TrimSpace(out))
		}
	}
	return want > 0 && len(parts) == want && unscheduled == 0, b.String(), nil
}
