package node

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"
	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/kubeadm"
)

// instanceTypeLabel is corev1.LabelInstanceTypeStable, spelt out so the test
// states the label Cluster Autoscaler's template nodes carry.
const instanceTypeLabel = "node.kubernetes.io/instance-type"

// instanceFromIMDS reads the instance through the agent's IMDSv2 client from
// a fake metadata service answering values.
func instanceFromIMDS(t *testing.T, values map[string]string) Instance {
	t.Helper()
	ts := httptest.NewServer(&imdsv2{values: values})
	t.Cleanup(ts.Close)
	client := imds.New(imds.Options{Endpoint: ts.URL, ClientEnableState: imds.ClientEnabled})
	inst, err := ReadInstance(context.Background(), client)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// renderedNodeLabels returns the --node-labels the kubelet is given by the
// kubeadm document of kind in config (InitConfiguration or
// JoinConfiguration), as a map.
func renderedNodeLabels(t *testing.T, config, kind string) map[string]string {
	t.Helper()
	for _, doc := range strings.Split(config, "---\n") {
		var d struct {
			Kind             string                          `json:"kind"`
			NodeRegistration kubeadm.NodeRegistrationOptions `json:"nodeRegistration"`
		}
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		if d.Kind != kind {
			continue
		}
		labels := map[string]string{}
		for _, arg := range d.NodeRegistration.KubeletExtraArgs {
			if arg.Name != "node-labels" {
				continue
			}
			for _, kv := range strings.Split(arg.Value, ",") {
				k, v, _ := strings.Cut(kv, "=")
				labels[k] = v
			}
		}
		return labels
	}
	t.Fatalf("no %s in the kubeadm configuration:\n%s", kind, config)
	return nil
}

// Every node, worker and control plane, registers with
// node.kubernetes.io/instance-type set to the type IMDS reports: no cloud
// controller manager sets it, and Cluster Autoscaler scales a pool up from
// zero for a pod selecting it (its template node carries the label), so a
// node without it would never run that pod.
func TestEveryNodeIsLabelledWithItsInstanceTypeFromIMDS(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()

	t.Run("worker", func(t *testing.T) {
		const instanceType = "m7g.xlarge"
		inst := instanceFromIMDS(t, map[string]string{
			"instance-id": "i-0bbbbbbbbbbbbbbbb", "instance-type": instanceType,
			"placement/availability-zone": "eu-west-1b", "placement/region": region,
			"local-ipv4": "10.0.2.20", "local-hostname": "ip-10-0-2-20.eu-west-1.compute.internal",
		})
		c.publishJoin(t)
		h := &captureJoin{recorder: newRecorder(t, "worker")}
		a := c.worker(h, fixedClock(t0), Backoff{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		a.Instance = inst
		if err := a.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		labels := renderedNodeLabels(t, h.joinConfig, "JoinConfiguration")
		if got := labels[instanceTypeLabel]; got != instanceType {
			t.Errorf("worker's --node-labels %s=%q, want %q (what IMDS serves); labels %v", instanceTypeLabel, got, instanceType, labels)
		}
		// The zone label is there as before.
		if got := labels["topology.kubernetes.io/zone"]; got != "eu-west-1b" {
			t.Errorf("worker's zone label %q, want eu-west-1b", got)
		}
	})

	t.Run("control plane", func(t *testing.T) {
		const instanceType = "t3.medium"
		inst := instanceFromIMDS(t, map[string]string{
			"instance-id": "i-0aaaaaaaaaaaaaaaa", "instance-type": instanceType,
			"placement/availability-zone": "eu-west-1a", "placement/region": region,
			"local-ipv4": "10.0.1.10", "local-hostname": "ip-10-0-1-10.eu-west-1.compute.internal",
		})
		h := newRecorder(t, "controller")
		a := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
		a.Instance = inst
		if err := a.Bootstrap(ctx); err != nil {
			t.Fatal(err)
		}
		labels := renderedNodeLabels(t, h.file(kubeadmConfPath), "InitConfiguration")
		if got := labels[instanceTypeLabel]; got != instanceType {
			t.Errorf("control plane's --node-labels %s=%q, want %q (what IMDS serves); labels %v", instanceTypeLabel, got, instanceType, labels)
		}
	})
}
