package cluster

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/version"
	fakediscovery "k8s.io/client-go/discovery/fake"
	"k8s.io/client-go/kubernetes/fake"
)

// The upgrade waits for the whole control plane, not only the API server:
// kubeadm's order has the control plane's kubelet upgraded, and its node
// back in service, before any worker drains.
func TestControlPlaneAtWaitsForTheKubeletAndTheUncordon(t *testing.T) {
	controlPlane := func(kubelet string, ready corev1.ConditionStatus, cordoned bool) *corev1.Node {
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "ip-10-40-0-10.ec2.internal", Labels: map[string]string{controlPlaneRoleLabel: ""}},
			Spec:       corev1.NodeSpec{Unschedulable: cordoned},
			Status: corev1.NodeStatus{
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: kubelet},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: ready}},
			},
		}
	}
	worker := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "ip-10-40-1-5.ec2.internal"},
		Status: corev1.NodeStatus{NodeInfo: corev1.NodeSystemInfo{KubeletVersion: "v1.35.4"}}}
	for _, tc := range []struct {
		name      string
		apiServer string
		nodes     []*corev1.Node
		done      bool
		says      string
	}{
		{"api server still at the old release", "v1.35.4", []*corev1.Node{controlPlane("v1.35.4", corev1.ConditionTrue, false)}, false, "the API server reports v1.35.4"},
		{"kubelet not upgraded yet", "v1.36.3", []*corev1.Node{controlPlane("v1.35.4", corev1.ConditionTrue, true), worker}, false, "kubelet is v1.35.4"},
		{"kubelet restarting", "v1.36.3", []*corev1.Node{controlPlane("v1.36.3", corev1.ConditionUnknown, true), worker}, false, "is not Ready"},
		{"not uncordoned yet", "v1.36.3", []*corev1.Node{controlPlane("v1.36.3", corev1.ConditionTrue, true), worker}, false, "still cordoned"},
		{"no control-plane node", "v1.36.3", []*corev1.Node{worker}, false, "no Node has the " + controlPlaneRoleLabel + " label"},
		{"done (workers still at the old release)", "v1.36.3", []*corev1.Node{controlPlane("v1.36.3", corev1.ConditionTrue, false), worker}, true, "API server reports v1.36.3; control-plane node ip-10-40-0-10.ec2.internal: kubelet v1.36.3, Ready"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client := fake.NewClientset()
			for _, n := range tc.nodes {
				if err := client.Tracker().Add(n); err != nil {
					t.Fatal(err)
				}
			}
			client.Discovery().(*fakediscovery.FakeDiscovery).FakedServerVersion = &version.Info{GitVersion: tc.apiServer}
			done, says := controlPlaneAt(context.Background(), client, "v1.36.3")
			if done != tc.done || !strings.Contains(says, tc.says) {
				t.Errorf("controlPlaneAt = %v, %q; want %v and a state naming %q", done, says, tc.done, tc.says)
			}
		})
	}
}

// On AWS, an upgrade whose control plane no API confirms stops before the
// workers: a worker of the new version cannot join the old control plane,
// and the old workers would be gone. The emulator never has an API, so
// there it goes on with a note, as --no-roll does everywhere.
func TestUpgradeRollsNoWorkerOverAnUnconfirmedControlPlane(t *testing.T) {
	apiErr := errors.New("kubernetes API at https://api.prod.example.org:6443 not reachable (dial tcp: i/o timeout)")
	o := UpgradeOptions{To: "1.36.6"}
	onAWS := &Env{Name: "prod", opts: Options{UI: &recordingUI{}}}
	if _, err := onAWS.controlPlaneUnconfirmed(apiErr, o); exitCodeOf(err) != ExitFailure ||
		!strings.Contains(err.Error(), "no worker was rolled") || !strings.Contains(err.Error(), "--tunnel-port") || !strings.Contains(err.Error(), "kforge roll prod") {
		t.Errorf("unconfirmed control plane on AWS: %v (exit %d), want a failure naming --tunnel-port and `kforge roll prod`", err, exitCodeOf(err))
	}
	o.NoRoll = true
	if msg, err := onAWS.controlPlaneUnconfirmed(apiErr, o); err != nil || !strings.Contains(msg, "not confirmed") {
		t.Errorf("--no-roll: %q, %v; want a note, since no worker is rolled", msg, err)
	}
	o.NoRoll = false
	ui := &recordingUI{}
	emulated := &Env{Name: "local", Endpoint: "http://127.0.0.1:9", opts: Options{UI: ui}}
	if msg, err := emulated.controlPlaneUnconfirmed(apiErr, o); err != nil || !strings.Contains(msg, "not confirmed") || len(ui.notes) != 1 {
		t.Errorf("on the emulator: %q, %v, notes %q; want the note and no error", msg, err, ui.notes)
	}
}
