package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/testutil/containerdconf"
)

// The control plane's agent upgrades to cluster.json's version: snapshot
// first, then the new kubeadm, kubeadm upgrade apply, the kubelet; nothing
// when the versions agree; a downgrade or a skipped minor changes nothing.
func TestUpgradeControlPlane(t *testing.T) {
	c, h, a := controllerAt(t, "", "1.35.10")
	ctx := context.Background()
	if v, err := a.runningControlPlaneVersion(); err != nil || v != "1.35.10" {
		t.Fatalf("after the bootstrap the control plane runs %q (%v), want 1.35.10", v, err)
	}
	before := len(h.commands())
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.commands()[before:]; len(got) != 1 || got[0] != "kubelet --version" {
		t.Errorf("same version: ran %v, want only kubelet --version", got)
	}

	// kforge upgrade wrote 1.36.6 into cluster.json.
	a.Cluster.KubernetesVersion = "1.36.6"
	a.Now = fixedClock(t0.Add(time.Hour))
	mark := len(h.log)
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	// kubeadm's documented order: the node drained after kubeadm upgrade
	// apply and before its kubelet changes minor, uncordoned after.
	h.assertOrder(t,
		"kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system exec etcd-ip-10-0-1-10.eu-west-1.compute.internal",
		"dnf install -y --disableexcludes=kubernetes kubeadm-1.36.6",
		"kubeadm upgrade apply v1.36.6 --yes",
		// upgrade apply recreated kubeadm's approval of any bootstrap CSR.
		"kubectl --kubeconfig /etc/kubernetes/admin.conf delete clusterrolebinding kubeadm:node-autoapprove-bootstrap --ignore-not-found",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf drain ip-10-0-1-10.eu-west-1.compute.internal --ignore-daemonsets --delete-emptydir-data --timeout=5m0s",
		"dnf install -y --disableexcludes=kubernetes kubelet-1.36.6 kubectl-1.36.6",
		// containerd's sandbox image follows the new kubeadm's pause.
		"kubeadm config images list --kubernetes-version v1.36.6",
		"systemctl restart containerd",
		"systemctl restart kubelet",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=jsonpath={.status.nodeInfo.kubeletVersion}=v1.36.6 node/ip-10-0-1-10.eu-west-1.compute.internal --timeout=5m",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready node/ip-10-0-1-10.eu-west-1.compute.internal --timeout=5m",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=condition=Ready pod -n kube-system -l tier=control-plane --field-selector=spec.nodeName=ip-10-0-1-10.eu-west-1.compute.internal --timeout=5m",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf get --raw=/readyz",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf uncordon ip-10-0-1-10.eu-west-1.compute.internal",
		// kubeadm upgrade apply renewed admin.conf: the drainer restarts on it.
		"systemctl try-restart kforge-drain-events.service",
	)
	if got, err := c.bucket.Get(ctx, AdminConfKey); err != nil || string(got) != h.file(adminConf) || !strings.Contains(string(got), "renewed by the upgrade to v1.36.6") {
		t.Errorf("admin.conf in the bucket after the upgrade: %q (%v), want the node's renewed one %q", got, err, h.file(adminConf))
	}
	if !strings.Contains(strings.Join(h.log[mark:], "\n"), "write /etc/yum.repos.d/kubernetes.repo") || !strings.Contains(h.file("/etc/yum.repos.d/kubernetes.repo"), "/core:/stable:/v1.36/rpm/") {
		t.Errorf("the package repository was not moved to 1.36: %q", h.file("/etc/yum.repos.d/kubernetes.repo"))
	}
	if v, _ := a.runningControlPlaneVersion(); v != "1.36.6" {
		t.Errorf("after the upgrade the control plane runs %q, want 1.36.6", v)
	}
	// Workers of the new minor may join now: the join material says so.
	if j, err := ReadJoin(ctx, c.bucket); err != nil || j.ControlPlaneVersion != "1.36.6" {
		t.Errorf("join material after the upgrade: control_plane_version %q (%v), want 1.36.6", j.ControlPlaneVersion, err)
	}
	if got := containerdconf.SandboxImage(t, h.file("/etc/containerd/config.toml")); got != "registry.k8s.io/pause:3.10.2" {
		t.Errorf("containerd's sandbox image after the upgrade = %q, want 1.36's kubeadm's registry.k8s.io/pause:3.10.2", got)
	}
	// The host counts as set up for 1.36.6: a reboot does not run the
	// host setup again on the control plane in service.
	if done, err := a.prerequisitesPhase().done(ctx); err != nil || !done {
		t.Errorf("after the upgrade the host setup for 1.36.6 counts as not done (%v): a reboot would run it again", err)
	}
	// The snapshot went to the bucket before kubeadm ran: its key is there.
	if _, err := c.bucket.Get(ctx, EtcdSnapshotKey); err != nil {
		t.Errorf("no etcd snapshot in the bucket: %v", err)
	}

	// Idempotent, and refusing what kubeadm cannot do, and a next minor
	// this agent was not built for (a later kforge release's cluster.json).
	if checkAgentKnowsMinor("1.37.0") == nil {
		t.Fatal("1.37 is supported now: start this test's control plane on the newest supported minor, and take the next one as the unknown")
	}
	for v, want := range map[string]error{"1.36.6": nil, "1.35.10": errUnsupportedStep, "1.38.0": errUnsupportedStep, "1.37.0": errMinorUnknownToAgent} {
		a.Cluster.KubernetesVersion = v
		before := len(h.commands())
		if err := a.UpgradeControlPlane(ctx); !errors.Is(err, want) {
			t.Errorf("cluster.json %s, control plane 1.36.6: %v, want %v", v, err, want)
		}
		if n := len(h.commands()) - before; n > 1 {
			t.Errorf("cluster.json %s: %d commands run, want only kubelet --version: %v", v, n, h.commands()[before:])
		}
	}
}

// A drain that cannot finish (a PodDisruptionBudget allowing no eviction)
// fails the run after kubeadm upgrade apply, with the kubelet untouched;
// the next run resumes at the drain without a second snapshot or kubeadm.
func TestUpgradeControlPlaneResumesAtTheDrain(t *testing.T) {
	h, a := upgrading(t, "")
	ctx := context.Background()
	h.fail = map[string]error{"kubectl --kubeconfig /etc/kubernetes/admin.conf drain": errors.New("exit status 1: global timeout reached: 5m0s")}
	mark := len(h.commands())
	err := a.UpgradeControlPlane(ctx)
	if err == nil || !strings.Contains(err.Error(), "draining ip-10-0-1-10.eu-west-1.compute.internal") {
		t.Fatalf("a drain that times out: %v, want the drain's error", err)
	}
	for _, c := range h.commands()[mark:] {
		if strings.Contains(c, "kubelet-1.36.6") || strings.HasPrefix(c, "systemctl restart kubelet") {
			t.Errorf("the kubelet was upgraded after a failed drain: %s", c)
		}
	}
	if v, _ := a.runningControlPlaneVersion(); v != "1.36.6" {
		t.Fatalf("kubeadm upgrade apply did not run before the drain: the control plane runs %q", v)
	}

	h.fail = nil
	mark = len(h.commands())
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	resumed := h.commands()[mark:]
	for _, c := range resumed {
		if strings.HasPrefix(c, "kubeadm upgrade apply") || strings.Contains(c, "etcdctl") {
			t.Errorf("the resumed run repeated %s", c)
		}
	}
	h.assertOrder(t,
		"kubectl --kubeconfig /etc/kubernetes/admin.conf drain ip-10-0-1-10.eu-west-1.compute.internal",
		"dnf install -y --disableexcludes=kubernetes kubelet-1.36.6 kubectl-1.36.6",
		"systemctl restart kubelet",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf uncordon ip-10-0-1-10.eu-west-1.compute.internal",
	)
	mark = len(h.commands())
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.commands()[mark:]; len(got) != 1 || got[0] != "kubelet --version" {
		t.Errorf("upgraded control plane: ran %v, want only kubelet --version", got)
	}
}

// kubeadm upgrade apply makes its automatic approval of bootstrap client
// CSRs again in its bootstrap-token phase, before its addon and
// post-upgrade phases. An apply that fails after it, or a delete that
// fails after the apply, leaves the control plane at the new version: the
// retry applies nothing, and must still delete the binding.
func TestUpgradeRetryDeletesKubeadmsAutoApproval(t *testing.T) {
	const deleteBinding = "kubectl --kubeconfig /etc/kubernetes/admin.conf delete clusterrolebinding kubeadm:node-autoapprove-bootstrap"
	deletes := func(cmds []string) int {
		n := 0
		for _, c := range cmds {
			if strings.HasPrefix(c, deleteBinding) {
				n++
			}
		}
		return n
	}
	ctx := context.Background()

	t.Run("apply failed after its bootstrap-token phase", func(t *testing.T) {
		h, a := upgrading(t, "")
		h.fail = map[string]error{"kubeadm upgrade apply": errors.New("[upgrade/addon] FATAL: coredns: context deadline exceeded")}
		mark := len(h.commands())
		if err := a.UpgradeControlPlane(ctx); err == nil {
			t.Fatal("a failed apply: want its error")
		}
		if n := deletes(h.commands()[mark:]); n != 1 {
			t.Errorf("the failed run deleted the binding %d times, want once after the apply", n)
		}
		// What kubeadm left: the new control plane's manifests.
		if err := h.WriteFile(apiServerManifest, []byte("spec:\n  containers:\n  - image: registry.k8s.io/kube-apiserver:v1.36.6\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		h.fail = nil
		mark = len(h.commands())
		if err := a.UpgradeControlPlane(ctx); err != nil {
			t.Fatal(err)
		}
		if n := deletes(h.commands()[mark:]); n != 1 {
			t.Errorf("the retry deleted the binding %d times, want once; ran:\n%s", n, strings.Join(h.commands()[mark:], "\n"))
		}
	})

	t.Run("the delete after the apply failed", func(t *testing.T) {
		h, a := upgrading(t, "")
		h.fail = map[string]error{deleteBinding: errors.New("The connection to the server api.dev.example.com:6443 was refused")}
		if err := a.UpgradeControlPlane(ctx); err == nil {
			t.Fatal("a failed delete: want its error")
		}
		h.fail = nil
		mark := len(h.commands())
		if err := a.UpgradeControlPlane(ctx); err != nil {
			t.Fatal(err)
		}
		h.assertOrder(t, deleteBinding, "kubectl --kubeconfig /etc/kubernetes/admin.conf drain")
		if deletes(h.commands()[mark:]) != 1 {
			t.Errorf("the retry finished the upgrade without deleting the binding; ran:\n%s", strings.Join(h.commands()[mark:], "\n"))
		}
	})
}

// The new kubelet recreates the static pods, so the API server restarts
// after the kubelet does: a wait or the uncordon it refuses fails the run
// with the node cordoned, and the next run, although both versions agree,
// resumes there (the upgrade's marker), and only there.
func TestUpgradeControlPlaneResumesBackInService(t *testing.T) {
	h, a := upgrading(t, "")
	ctx := context.Background()
	h.fail = map[string]error{"kubectl --kubeconfig /etc/kubernetes/admin.conf wait --for=jsonpath": errors.New("exit status 1: The connection to the server 10.0.1.10:6443 was refused")}
	err := a.UpgradeControlPlane(ctx)
	if err == nil || !strings.Contains(err.Error(), "returning ip-10-0-1-10.eu-west-1.compute.internal to service") {
		t.Fatalf("an API server restarting after the kubelet: %v, want the wait's error", err)
	}
	if h.ran("kubectl --kubeconfig /etc/kubernetes/admin.conf uncordon") {
		t.Fatalf("uncordoned although the kubelet had not settled: %v", h.commands())
	}

	h.fail = nil
	mark := len(h.commands())
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	resumed := h.commands()[mark:]
	for _, c := range resumed {
		if strings.HasPrefix(c, "kubeadm") || strings.HasPrefix(c, "dnf") || strings.Contains(c, " drain ") || strings.HasPrefix(c, "systemctl restart") {
			t.Errorf("the resumed run repeated %s", c)
		}
	}
	if last := resumed[len(resumed)-1]; last != "rm -f /var/lib/kforge/control-plane-drained" || !slices.Contains(resumed, "kubectl --kubeconfig /etc/kubernetes/admin.conf uncordon ip-10-0-1-10.eu-west-1.compute.internal") {
		t.Errorf("the resumed run: %v; want the waits, the uncordon, then the marker removed", resumed)
	}
	mark = len(h.commands())
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.commands()[mark:]; len(got) != 1 || got[0] != "kubelet --version" {
		t.Errorf("upgraded control plane: ran %v, want only kubelet --version", got)
	}
}

// On a lab node of a cgroup v1 machine, kubeadm upgrade apply skips the
// system verification, as the lab's kubeadm init and join do; on every
// other node (no lab setting) it runs.
func TestUpgradeControlPlaneLabCgroupV1(t *testing.T) {
	h, a := upgrading(t, "local")
	ctx := context.Background()
	_ = h.WriteFile(LabSettingsPath, []byte(`{"cgroupV1":true}`), 0o644)
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	if !h.ran("kubeadm upgrade apply v1.36.6 --yes --patches /etc/kforge/kubeadm-patches --ignore-preflight-errors=SystemVerification") {
		t.Errorf("the lab's cgroup v1 node did not skip SystemVerification: %v", h.commands())
	}
}

// The upgrade writes containerd's configuration again for the new pause:
// on a lab node it must keep the lab's runtime settings, which the
// bootstrap loads but an upgrade run, outside the bootstrap, must load
// itself. Without them the lab's runc cannot start a container, and the
// upgraded control plane never came back (seen in the lab's Upgrade).
func TestUpgradeKeepsTheLabsContainerdSettings(t *testing.T) {
	h, a := upgrading(t, "local")
	ctx := context.Background()
	_ = h.WriteFile(LabSettingsPath, []byte(`{"noNewKeyring":true,"restrictOOMScoreAdj":true}`), 0o644)
	a.lab = nil // a new process: kforge node upgrade-control-plane
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	conf := h.file("/etc/containerd/config.toml")
	for _, want := range []string{"NoNewKeyring = true", "restrict_oom_score_adj = true", "sandbox = 'registry.k8s.io/pause:3.10.2'"} {
		if !strings.Contains(conf, want) {
			t.Errorf("containerd's configuration after the lab node's upgrade lacks %q", want)
		}
	}
}

// upgrading is a control plane bootstrapped at 1.35.10 whose cluster.json
// now asks for 1.36.6, an hour later.
func upgrading(t *testing.T, env string) (*recorder, *Agent) {
	t.Helper()
	_, h, a := controllerAt(t, env, "1.35.10")
	a.Cluster.KubernetesVersion = "1.36.6"
	a.Now = fixedClock(t0.Add(time.Hour))
	return h, a
}

// controllerAt is a control plane bootstrapped at version on the recorded
// host (in environment env when not empty), where an upgrade starts.
func controllerAt(t *testing.T, env, version string) (*cloud, *recorder, *Agent) {
	t.Helper()
	c := newCloud(t)
	h := newRecorder(t, "controller")
	a := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	if env != "" {
		a.Cluster.Environment = env
	}
	a.Cluster.KubernetesVersion = version
	if err := a.Bootstrap(context.Background()); err != nil {
		t.Fatal(err)
	}
	return c, h, a
}

// A worker whose kubelet would be of a newer minor than the control plane
// (launched by the autoscaler between the apply and the control plane's
// upgrade) waits until the upgraded control plane republishes its
// version; a patch ahead, or material without a version, does not wait.
func TestWorkerOfANewerMinorWaitsForTheControlPlane(t *testing.T) {
	c, _, a := controllerAt(t, "", "1.35.10")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	j, err := ReadJoin(ctx, c.bucket)
	if err != nil || j.ControlPlaneVersion != "1.35.10" {
		t.Fatalf("the bootstrap's join material: control_plane_version %q (%v), want 1.35.10", j.ControlPlaneVersion, err)
	}
	now := fixedClock(t0)
	var waited []string
	log := func(msg string, args ...any) { waited = append(waited, fmt.Sprint(append([]any{msg}, args...)...)) }
	noWait := Backoff{Sleep: func(context.Context, time.Duration) error {
		return errors.New("waited")
	}}
	for _, kubelet := range []string{"1.35.11", "1.35.10"} {
		if _, err := WaitForJoin(ctx, c.bucket, noWait, now, log, kubelet); err != nil {
			t.Errorf("kubelet %s, control plane 1.35.10: %v; want the join at once", kubelet, err)
		}
	}

	// The control plane upgrades while the new worker waits.
	upgrade := Backoff{Initial: time.Millisecond, Sleep: func(ctx context.Context, _ time.Duration) error {
		return a.publishControlPlaneVersion(ctx, "1.36.6")
	}}
	got, err := WaitForJoin(ctx, c.bucket, upgrade, now, log, "1.36.6")
	if err != nil || got.ControlPlaneVersion != "1.36.6" {
		t.Fatalf("kubelet 1.36.6: %+v, %v; want the join once the control plane runs 1.36.6", got, err)
	}
	if len(waited) != 1 || !strings.Contains(waited[0], "the control plane runs Kubernetes 1.35.10: a kubelet 1.36.6 may not join before it is upgraded") {
		t.Errorf("the wait was logged as %q", waited)
	}

	// Material published before the field existed: no check.
	j.ControlPlaneVersion = ""
	if err := PublishJoin(ctx, c.bucket, j); err != nil {
		t.Fatal(err)
	}
	if _, err := WaitForJoin(ctx, c.bucket, noWait, now, log, "1.37.0"); err != nil {
		t.Errorf("material without a version: %v; want the join", err)
	}
}

// An upgrade that keeps failing before kubeadm upgrade apply (a package
// repository down) is retried every two minutes; its snapshot is taken
// once per backup interval, not on every attempt.
func TestFailingUpgradeSnapshotsOncePerBackupInterval(t *testing.T) {
	h, a := upgrading(t, "")
	ctx := context.Background()
	h.fail = map[string]error{"dnf install": errors.New("exit status 1: Curl error (6): Couldn't resolve host name")}
	clock := t0.Add(time.Hour)
	a.Now = func() time.Time { return clock }
	snapshots := func() int {
		return strings.Count(strings.Join(h.commands(), "\n"), "etcdctl --endpoints=https://127.0.0.1:2379")
	}
	before := snapshots()
	for range 5 {
		if err := a.UpgradeControlPlane(ctx); err == nil {
			t.Fatal("an upgrade whose packages cannot be fetched succeeded")
		}
		clock = clock.Add(2 * time.Minute)
	}
	if n := snapshots() - before; n != 1 {
		t.Errorf("five attempts in ten minutes took %d snapshots, want 1", n)
	}
	clock = clock.Add(DefaultBackupMinutes * time.Minute)
	if err := a.UpgradeControlPlane(ctx); err == nil {
		t.Fatal("an upgrade whose packages cannot be fetched succeeded")
	}
	if n := snapshots() - before; n != 2 {
		t.Errorf("an attempt a backup interval later took %d snapshots in all, want 2 (a fresh one)", n)
	}
}
