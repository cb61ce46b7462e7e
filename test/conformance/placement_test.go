package conformance

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/config"
)

// where a workload's pods must run.
type where int

const (
	controlPlane where = iota // only the control-plane node
	workers                   // only the (ingress) worker
	everyNode                 // one pod on each node
)

func (w where) String() string {
	return [...]string{"the control plane", "workers", "every node"}[w]
}

// intended is where kforge means every add-on to run (docs/NODES.md):
// controllers that call AWS run on the control plane's host network, the
// only place with the control plane's instance role (pods never get
// instance credentials); cilium-operator runs there too, since the first
// control plane has no worker to wait for; Cilium's agents run everywhere;
// the rest belongs on workers, Traefik on the pools that take ingress.
var intended = map[string]where{
	"kube-system/cluster-autoscaler": controlPlane,
	"kube-system/efs-csi-controller": controlPlane,
	"kube-system/cilium-operator":    controlPlane,
	"kube-system/efs-csi-node":       workers,
	"kube-system/metrics-server":     workers,
	"traefik/traefik":                workers,
	"kube-system/cilium":             everyNode,
	"kube-system/cilium-envoy":       everyNode,
}

// 9. With kubeadm's controller-manager and scheduler and two registered
// nodes (the tainted control plane and a worker), every add-on pod is
// scheduled where kforge intends and none stays Pending.
func checkPlacement(t *testing.T, e *env, a artifacts) {
	e.start("kube-controller-manager")
	e.start("kube-scheduler")
	for _, n := range []nodeSpec{
		{name: nodeName, ip: nodeIP, controlPlane: true},
		// A worker of an ingress pool: Terraform gives those pools the
		// ingress label, which Traefik is placed by.
		{name: workerName, ip: workerIP, labels: map[string]string{"tier": "apps", config.IngressLabel: "true"}},
	} {
		registerNode(t, e, n)
	}
	heartbeat(t, e, nodeName, workerName)

	var last string
	err := waitFor(4*time.Minute, func() error {
		pods, err := listPods(e)
		if err != nil {
			return err
		}
		got := map[string][]string{}
		var pending []string
		for _, p := range pods {
			w := p.workload()
			if _, ok := intended[w]; !ok {
				continue
			}
			if p.Spec.NodeName == "" {
				pending = append(pending, fmt.Sprintf("%s (%s)", p.Metadata.Name, p.unschedulable()))
				continue
			}
			got[w] = append(got[w], p.Spec.NodeName)
		}
		var problems []string
		problems = append(problems, pending...)
		for _, w := range slices.Sorted(maps.Keys(intended)) {
			nodes := got[w]
			want := intended[w]
			switch want {
			case controlPlane:
				if len(nodes) == 0 || !allOn(nodes, nodeName) {
					problems = append(problems, fmt.Sprintf("%s on %v, want %s", w, nodes, want))
				}
			case workers:
				if len(nodes) == 0 || !allOn(nodes, workerName) {
					problems = append(problems, fmt.Sprintf("%s on %v, want %s", w, nodes, want))
				}
			case everyNode:
				if len(nodes) != 2 || nodes[0] == nodes[1] {
					problems = append(problems, fmt.Sprintf("%s on %v, want %s", w, nodes, want))
				}
			}
		}
		if len(problems) > 0 {
			last = strings.Join(problems, "\n")
			return fmt.Errorf("%s", last)
		}
		return nil
	})
	if err != nil {
		events, _ := e.kubectl("get", "events", "-A", "--field-selector", "type=Warning")
		t.Fatalf("add-on placement is not what kforge intends:\n%v\nwarning events:\n%s", err, events)
	}
}

func allOn(nodes []string, name string) bool {
	for _, n := range nodes {
		if n != name {
			return false
		}
	}
	return true
}

type nodeSpec struct {
	name, ip     string
	controlPlane bool
	labels       map[string]string
}

// registerNode creates a Node as the kubelet registers it (kubeadm adds the
// control-plane label and taint), then reports it Ready with capacity.
func registerNode(t *testing.T, e *env, n nodeSpec) {
	t.Helper()
	labels := map[string]string{
		"kubernetes.io/hostname": n.name, "kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
	}
	for k, v := range n.labels {
		labels[k] = v
	}
	var taints []map[string]string
	if n.controlPlane {
		labels["node-role.kubernetes.io/control-plane"] = ""
		labels["node.kubernetes.io/exclude-from-external-load-balancers"] = ""
		taints = append(taints, map[string]string{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"})
	}
	obj := map[string]any{
		"apiVersion": "v1", "kind": "Node",
		"metadata": map[string]any{"name": n.name, "labels": labels},
		"spec":     map[string]any{"taints": taints},
	}
	raw, _ := json.Marshal(obj)
	if _, err := e.kubectl("create", "-f", e.write("node-"+n.name+".json", raw)); err != nil {
		t.Fatalf("registering node %s:\n%v", n.name, err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	status := map[string]any{"status": map[string]any{
		"capacity":    map[string]string{"cpu": "4", "memory": "16Gi", "pods": "110"},
		"allocatable": map[string]string{"cpu": "4", "memory": "16Gi", "pods": "110"},
		"addresses":   []map[string]string{{"type": "InternalIP", "address": n.ip}, {"type": "Hostname", "address": n.name}},
		"conditions": []map[string]string{{
			"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status",
			"lastHeartbeatTime": now, "lastTransitionTime": now,
		}},
		"nodeInfo": map[string]string{"kubeletVersion": "v" + e.bin.Version, "operatingSystem": "linux", "architecture": "amd64"},
	}}
	patch, _ := json.Marshal(status)
	if _, err := e.kubectl("patch", "node", n.name, "--subresource=status", "--type=merge", "-p", string(patch)); err != nil {
		t.Fatalf("reporting node %s Ready:\n%v", n.name, err)
	}
}

// heartbeat renews the named nodes' leases until the check t ends.
func heartbeat(t *testing.T, e *env, names ...string) {
	stop := make(chan struct{})
	t.Cleanup(func() { close(stop) })
	go renewLeases(e, stop, names...)
}

// renewLeases stands in for the kubelets' heartbeats, so the node lifecycle
// controller does not taint the nodes unreachable during the check.
func renewLeases(e *env, stop <-chan struct{}, names ...string) {
	for {
		for _, n := range names {
			now := time.Now().UTC().Format("2006-01-02T15:04:05.000000Z07:00")
			lease := fmt.Sprintf(`{"apiVersion":"coordination.k8s.io/v1","kind":"Lease","metadata":{"name":%q,"namespace":"kube-node-lease"},"spec":{"holderIdentity":%q,"leaseDurationSeconds":40,"renewTime":%q}}`, n, n, now)
			_, _ = e.run(nil, "kubectl", "--kubeconfig", adminConf, "apply", "--server-side", "--force-conflicts", "--field-manager=conformance-heartbeat", "-f", e.write("lease-"+n+".json", []byte(lease)))
		}
		select {
		case <-stop:
			return
		case <-time.After(10 * time.Second):
		}
	}
}

type pod struct {
	Metadata struct {
		Name            string `json:"name"`
		Namespace       string `json:"namespace"`
		OwnerReferences []struct {
			Kind string `json:"kind"`
			Name string `json:"name"`
		} `json:"ownerReferences"`
	} `json:"metadata"`
	Spec struct {
		NodeName string `json:"nodeName"`
	} `json:"spec"`
	Status struct {
		Conditions []struct {
			Type    string `json:"type"`
			Status  string `json:"status"`
			Message string `json:"message"`
		} `json:"conditions"`
	} `json:"status"`
}

// workload is namespace/name of the Deployment or DaemonSet owning the pod.
func (p pod) workload() string {
	if len(p.Metadata.OwnerReferences) == 0 {
		return p.Metadata.Namespace + "/" + p.Metadata.Name
	}
	o := p.Metadata.OwnerReferences[0]
	name := o.Name
	if o.Kind == "ReplicaSet" {
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
	}
	return p.Metadata.Namespace + "/" + name
}

// unschedulable is the scheduler's verbatim reason, if it gave one.
func (p pod) unschedulable() string {
	for _, c := range p.Status.Conditions {
		if c.Type == "PodScheduled" && c.Status == "False" {
			return c.Message
		}
	}
	return "not scheduled yet"
}

func listPods(e *env) ([]pod, error) {
	out, err := e.kubectl("get", "pods", "-A", "-o", "json")
	if err != nil {
		return nil, err
	}
	var list struct {
		Items []pod `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		return nil, err
	}
	return list.Items, nil
}
