package node

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/testutil/containerdconf"
)

// failing is a recorder whose commands starting with prefix fail, as a
// `kubectl wait` that times out does.
type failing struct {
	*recorder
	prefix string
}

func (f *failing) Run(ctx context.Context, c Command) (string, error) {
	if strings.HasPrefix(c.String(), f.prefix) {
		f.mu.Lock()
		f.log = append(f.log, "run "+c.String())
		f.mu.Unlock()
		return "", errors.New("error: timed out waiting for the condition on deployments/cert-manager-webhook")
	}
	return f.recorder.Run(ctx, c)
}

// The first control plane must publish join material, take its first
// backup and start its timers even when an add-on never becomes ready (the
// cert-manager webhook not tolerating the control-plane taint deadlocked
// the first bootstrap); the add-ons are retried later by their timer.
func TestFirstBootstrapIsUsableWhenAnAddonWaitTimesOut(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	rec := newRecorder(t, "controller")
	h := &failing{recorder: rec, prefix: "kubectl --kubeconfig /etc/kubernetes/admin.conf -n cert-manager wait"}
	var logs bytes.Buffer
	a := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	a.Log = slog.New(slog.NewTextHandler(&logs, nil))
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatalf("an add-on wait failed the bootstrap: %v", err)
	}
	if _, err := ReadJoin(ctx, c.bucket); err != nil {
		t.Errorf("no join material after the bootstrap: %v", err)
	}
	for _, key := range []string{PKIBackupKey, EtcdSnapshotKey, AdminConfKey} {
		if _, err := c.bucket.Get(ctx, key); err != nil {
			t.Errorf("first backup missing %s: %v", key, err)
		}
	}
	if !rec.ran("systemctl enable --now kforge-approve-csrs.timer") || !rec.ran("systemctl enable --now kforge-refresh-token.timer kforge-backup.timer") || !rec.ran("systemctl enable --now kforge-addons.timer") {
		t.Error("timers not started")
	}
	// Nothing an add-on does may come before the control plane is usable.
	rec.assertOrder(t, "kubeadm token create", "systemctl enable --now kforge-refresh-token.timer", "kubectl --kubeconfig /etc/kubernetes/admin.conf apply")
	if !strings.Contains(logs.String(), "phase failed; retried later") || !strings.Contains(logs.String(), "retried_by=kforge-addons.timer") {
		t.Errorf("the add-on failure was not logged as retried later:\n%s", logs.String())
	}
	if !Exists(rec, readyMarker) {
		t.Error("the node was not recorded ready")
	}
	if rec.ran("kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f /var/lib/kforge/addons/kforge-issuers.yaml") {
		t.Error("ClusterIssuers applied without cert-manager's webhook")
	}

	// kforge-addons.timer's run, once the webhook serves, finishes the job;
	// a later run is a no-op.
	if err := a.withHost(rec).ApplyAddons(ctx); err != nil {
		t.Fatal(err)
	}
	if !rec.ran("kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f /var/lib/kforge/addons/kforge-issuers.yaml") {
		t.Error("the retry did not apply the ClusterIssuers")
	}
	before := len(rec.commands())
	if err := a.withHost(rec).ApplyAddons(ctx); err != nil {
		t.Fatal(err)
	}
	if extra := rec.commands()[before:]; len(extra) != 0 {
		t.Errorf("applied add-ons were applied again: %q", extra)
	}
}

func (a *Agent) withHost(h Host) *Agent {
	b := *a
	b.Host = h
	return &b
}

// A restored control plane rotates the join material even when it looks
// fresh: its token may have been created after the etcd snapshot.
func TestRestoreAlwaysRotatesTheJoinMaterial(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	c.bootstrapController(t, "first", "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", t0)
	before, err := ReadJoin(ctx, c.bucket)
	if err != nil {
		t.Fatal(err)
	}
	// Replaced an hour later: the published token still has 23 h to live.
	second := c.bootstrapController(t, "second", "10.0.3.30", "i-0cccccccccccccccc", t0.Add(time.Hour))
	after, err := ReadJoin(ctx, c.bucket)
	if err != nil {
		t.Fatal(err)
	}
	if after.Token == before.Token || !after.Expires.Equal(t0.Add(time.Hour+TokenTTL)) {
		t.Errorf("join material not rotated after the restore: before %s, after %s (expires %s)", before.Token, after.Token, after.Expires)
	}
	if Exists(second, rotateAfterRestore) {
		t.Error("the rotation marker outlived the rotation")
	}
	second.assertOrder(t, "ctr -n k8s.io run", "kubeadm init", "kubeadm token create")
	// A reboot does not rotate again.
	n := len(second.commands())
	if err := c.controller(second, "10.0.3.30", "i-0cccccccccccccccc", fixedClock(t0.Add(2*time.Hour))).Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range second.commands()[n:] {
		if strings.HasPrefix(cmd, "kubeadm token create") {
			t.Error("rotated again on a reboot")
		}
	}
}

func TestAttemptBacksOffAndPowersOffOnlyANodeThatNeverBecameReady(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	boom := errors.New("phase prerequisites: dnf: no route to host")
	var slept []time.Duration
	bo := Backoff{Initial: 30 * time.Second, Max: 10 * time.Minute, Sleep: func(_ context.Context, d time.Duration) error {
		slept = append(slept, d)
		return nil
	}}
	fail := func(context.Context) error { return boom }
	h := newRecorder(t, "node")
	_ = h.WriteFile(envFile, []byte("KFORGE_ROLE=worker\n"), 0o644)
	_ = h.WriteFile("/proc/uptime", []byte("120.50 200.00\n"), 0o444)
	for range 7 {
		if err := Attempt(context.Background(), h, log, bo, fail); !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	}
	want := []time.Duration{30 * time.Second, time.Minute, 2 * time.Minute, 4 * time.Minute, 8 * time.Minute, 10 * time.Minute, 10 * time.Minute}
	if len(slept) != len(want) {
		t.Fatalf("slept %v", slept)
	}
	for i := range want {
		if slept[i] != want[i] {
			t.Fatalf("backoff %v, want %v", slept, want)
		}
	}
	if h.ran("systemctl poweroff") {
		t.Fatal("powered off before the deadline")
	}

	// Past the deadline, a node that never became ready powers off.
	_ = h.WriteFile("/proc/uptime", []byte("1800.00 200.00\n"), 0o444)
	if err := Attempt(context.Background(), h, log, bo, fail); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if !h.ran("systemctl poweroff") {
		t.Fatal("a node failing 30 min after boot was not powered off")
	}

	// A node that was ready once (a reboot that fails later) is never
	// powered off: a control plane's etcd may hold newer state than the
	// last backup.
	ready := newRecorder(t, "ready")
	_ = ready.WriteFile(envFile, []byte("KFORGE_ROLE=controller\n"), 0o644)
	_ = ready.WriteFile(readyMarker, []byte("2026-03-01T12:00:00Z\n"), 0o644)
	_ = ready.WriteFile("/proc/uptime", []byte("86400.00 200.00\n"), 0o444)
	if err := Attempt(context.Background(), ready, log, bo, fail); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if ready.ran("systemctl poweroff") {
		t.Error("a node that was ready once was powered off")
	}

	// Nor is a control plane past kubeadm init whose later phases fail
	// (the EC2 API down, a lost zone's Cilium pods): it serves the API.
	serving := newRecorder(t, "serving")
	_ = serving.WriteFile(envFile, []byte("KFORGE_ROLE=controller\n"), 0o644)
	_ = serving.WriteFile(kubeadmInitMarker, []byte("2026-03-01T12:00:00Z\n"), 0o644)
	_ = serving.WriteFile("/proc/uptime", []byte("1801.00 200.00\n"), 0o444)
	if err := Attempt(context.Background(), serving, log, bo, fail); !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if serving.ran("systemctl poweroff") {
		t.Error("a control plane serving the API since kubeadm init was powered off")
	}

	// Success resets the count, so the next failure waits the initial delay.
	slept = nil
	if err := Attempt(context.Background(), h, log, bo, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if Exists(h, failuresFile) {
		t.Error("failure count survived a success")
	}
}

// The bootstrap unit owns the retries and shows progress on the serial
// console; user data only starts it.
func TestBootstrapUnitRetriesForeverAndWritesToTheConsole(t *testing.T) {
	us, err := Units()
	if err != nil {
		t.Fatal(err)
	}
	unit := string(us["kforge-bootstrap.service"])
	for _, want := range []string{
		"\nType=oneshot\n", "\nRestart=on-failure\n", "\nStartLimitIntervalSec=0\n",
		"\nStandardOutput=journal+console\n", "\nStandardError=journal+console\n",
	} {
		if !strings.Contains(unit, want) {
			t.Errorf("kforge-bootstrap.service lacks %q", strings.TrimSpace(want))
		}
	}
	if _, ok := us["kforge-addons.timer"]; !ok {
		t.Error("no kforge-addons.timer to retry the add-ons")
	}
}

// Amazon Linux 2023 host setup: systemd-networkd must leave Cilium's routes
// and rules alone (and be restarted to read that before Cilium starts), and
// the tools kubeadm's preflight requires must be installed.
func TestPrerequisitesPrepareAmazonLinux2023(t *testing.T) {
	h := newRecorder(t, "node")
	a := &Agent{Host: h, Cluster: Cluster{KubernetesVersion: "1.36.6"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	p := a.prerequisitesPhase()
	if err := p.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	conf := h.file("/etc/systemd/networkd.conf.d/80-kforge.conf")
	section := ""
	got := map[string]string{}
	for _, line := range strings.Split(conf, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, _ := strings.Cut(line, "=")
			got[section+"."+k] = v
		}
	}
	for _, key := range []string{"Network.ManageForeignRoutes", "Network.ManageForeignRoutingPolicyRules"} {
		if got[key] != "no" {
			t.Errorf("networkd drop-in: %s = %q, want no\n%s", key, got[key], conf)
		}
	}
	// The kernel settings a node needs, and inotify limits a busy node
	// does not exhaust (the kernel gives 128 instances per user).
	sysctls := map[string]string{}
	for _, line := range strings.Split(h.file("/etc/sysctl.d/99-kforge-kubernetes.conf"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			sysctls[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	for k, want := range map[string]string{"net.ipv4.ip_forward": "1", "net.bridge.bridge-nf-call-iptables": "1",
		"fs.inotify.max_user_instances": "8192", "fs.inotify.max_user_watches": "524288"} {
		if sysctls[k] != want {
			t.Errorf("sysctl drop-in: %s = %q, want %s", k, sysctls[k], want)
		}
	}
	if !h.ran("sysctl --system") {
		t.Error("the sysctl drop-in was written but not applied")
	}
	var install string
	for _, c := range h.commands() {
		if strings.HasPrefix(c, "dnf install -y containerd") {
			install = c
		}
	}
	// kubeadm's mandatory path checks: ip, iptables, mount, nsenter; the
	// warned-about ones: ethtool, socat, tc.
	for _, pkg := range []string{"iptables-nft", "iproute-tc", "util-linux", "ethtool", "socat"} {
		if !slices.Contains(strings.Fields(install), pkg) {
			t.Errorf("%s not installed (%q)", pkg, install)
		}
	}
	h.assertOrder(t, "dnf install -y containerd", "systemctl try-restart systemd-networkd", "systemctl enable --now kubelet")
	if done, _ := p.done(context.Background()); !done {
		t.Error("phase not marked done")
	}
	// A node set up by a previous revision of this phase runs it again.
	for _, marker := range []string{"prerequisites-1.36.6.done", "prerequisites-1.36.6-r2.done", "prerequisites-1.36.6-r3.done"} {
		old := newRecorder(t, "old")
		_ = old.WriteFile(stateDir+"/"+marker, []byte("1.36.6\n"), 0o644)
		if done, _ := (&Agent{Host: old, Cluster: a.Cluster}).prerequisitesPhase().done(context.Background()); done {
			t.Errorf("the previous revision's marker %s skips the new host setup", marker)
		}
	}
}

// containerd runs every pod's sandbox from the pause it is configured
// with: the one the installed kubeadm names for the release, not
// containerd's own default (which the recorder's real default config
// names), so kubeadm's preflight agrees and no second pause is pulled.
func TestPrerequisitesSetKubeadmsPauseAsContainerdsSandbox(t *testing.T) {
	h := newRecorder(t, "node")
	a := &Agent{Host: h, Cluster: Cluster{KubernetesVersion: "1.36.6"}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := a.prerequisitesPhase().run(context.Background()); err != nil {
		t.Fatal(err)
	}
	h.assertOrder(t, "dnf install -y --disableexcludes=kubernetes kubelet-1.36.6 kubeadm-1.36.6 kubectl-1.36.6",
		"kubeadm config images list --kubernetes-version v1.36.6", "systemctl restart containerd")
	if got := containerdconf.SandboxImage(t, h.file("/etc/containerd/config.toml")); got != "registry.k8s.io/pause:3.10.2" {
		t.Errorf("containerd's sandbox image = %q, want kubeadm's registry.k8s.io/pause:3.10.2", got)
	}

	// Without kubeadm's answer no config is written and containerd keeps
	// running as it was.
	failing := newRecorder(t, "failing")
	failing.fail = map[string]error{"kubeadm config images list": errors.New("kubeadm: exit status 1")}
	b := &Agent{Host: failing, Cluster: a.Cluster, Log: a.Log}
	if err := b.prerequisitesPhase().run(context.Background()); err == nil {
		t.Fatal("the phase succeeded without kubeadm's image list")
	}
	if Exists(failing, "/etc/containerd/config.toml") || failing.ran("systemctl restart containerd") {
		t.Error("containerd reconfigured without kubeadm's pause image")
	}
}

// A worker that joined but never became Ready has not finished: the attempt
// fails (and is retried, and counts toward the ready deadline).
func TestWorkerIsNotReadyUntilItsNodeIsReady(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	c.publishJoin(t)
	rec := newRecorder(t, "worker")
	h := &failing{recorder: rec, prefix: "kubectl --kubeconfig /etc/kubernetes/kubelet.conf wait --for=condition=Ready node/ip-10-0-2-20.eu-west-1.compute.internal"}
	w := c.worker(h, fixedClock(t0), Backoff{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err := w.Bootstrap(ctx); err == nil || !strings.Contains(err.Error(), "phase node-ready") {
		t.Fatalf("want the node-ready phase to fail the attempt, got %v", err)
	}
	if Exists(rec, readyMarker) {
		t.Error("a node that is not Ready was recorded ready")
	}
	// Once the node is Ready, the next attempt finishes without joining again.
	if err := w.withHost(rec).Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if !Exists(rec, readyMarker) {
		t.Error("a Ready node was not recorded ready")
	}
	joins := 0
	for _, c := range rec.commands() {
		if strings.HasPrefix(c, "kubeadm join") {
			joins++
		}
	}
	if joins != 1 {
		t.Errorf("joined %d times", joins)
	}
}

// A control plane is in service once its Node is Ready: the ready marker,
// which keeps it from being powered off for a later boot's failures, is
// written then, before the add-ons phase (which its own timer retries and
// which may take more than ten minutes), not after it.
func TestControlPlaneIsMarkedReadyBeforeItsAddons(t *testing.T) {
	_, h, _ := controllerAt(t, "", "1.36.6")
	marker, addons := -1, -1
	for i, l := range h.log {
		if l == "write "+readyMarker && marker < 0 {
			marker = i
		}
		if strings.Contains(l, "apply --server-side --force-conflicts -f /var/lib/kforge/addons/") && addons < 0 {
			addons = i
		}
	}
	if marker < 0 || addons < 0 || marker > addons {
		t.Errorf("ready marker written at step %d, the first add-on applied at step %d: want the marker first", marker, addons)
	}
}

// A reboot's add-ons phase and kforge-addons.timer both run ApplyAddons:
// they take turns, so neither applies a bundle the other is writing.
func TestConcurrentAddonsRunsTakeTurns(t *testing.T) {
	_, h, a := controllerAt(t, "", "1.36.6")
	h.mu.Lock()
	for path := range h.files {
		if strings.HasPrefix(path, stateDir+"/addons-") {
			delete(h.files, path) // the add-ons are not applied yet
		}
	}
	h.mu.Unlock()
	mark := len(h.log)
	twiceAtOnce(t, func() error { return a.ApplyAddons(context.Background()) })
	work := len(underLock(t, h.log[mark:], addonsLock, func(l string) bool { return strings.HasPrefix(l, "run curl") || strings.Contains(l, " apply ") }))
	if work == 0 {
		t.Fatal("neither run applied anything")
	}
}

// kubeadm and rpm do not sync what they write: each marker that vouches
// for their files follows a sync, or a crash could leave them empty behind
// a marker that keeps them from being written again.
func TestMarkersOfOtherProgramsWorkFollowASync(t *testing.T) {
	_, h, a := controllerAt(t, "", "1.36.6")
	synced := func(log []string, work, marker string) {
		t.Helper()
		workAt, syncAt := -1, -1
		for i, l := range log {
			switch {
			case strings.HasPrefix(l, "run "+work):
				workAt, syncAt = i, -1
			case l == "run sync" && workAt >= 0:
				syncAt = i
			case l == "write "+marker:
				if workAt < 0 || syncAt < workAt {
					t.Errorf("%s written at step %d without a sync after %q (at step %d)", marker, i, work, workAt)
				}
				return
			}
		}
		t.Errorf("%s was never written after %q", marker, work)
	}
	synced(h.log, "kubeadm init", kubeadmInitMarker)
	synced(h.log, "systemctl enable --now kubelet", a.prerequisitesMarker())

	h, a = upgrading(t, "")
	mark := len(h.log)
	if err := a.UpgradeControlPlane(context.Background()); err != nil {
		t.Fatal(err)
	}
	synced(h.log[mark:], "dnf install -y --disableexcludes=kubernetes kubelet-1.36.6", a.prerequisitesMarker())
}

// refusingTimes is a recorder whose commands starting with prefix fail the
// first times calls, as the API server refuses cert-manager's kinds while
// its webhook has no CA bundle.
type refusingTimes struct {
	*recorder
	prefix string
	times  int
}

func (f *refusingTimes) Run(ctx context.Context, c Command) (string, error) {
	if strings.HasPrefix(c.String(), f.prefix) && f.times > 0 {
		f.times--
		f.mu.Lock()
		f.log = append(f.log, "run "+c.String())
		f.mu.Unlock()
		return "", errors.New(`Error from server (InternalError): Internal error occurred: failed calling webhook "webhook.cert-manager.io": failed to call webhook: Post "https://cert-manager-webhook.cert-manager.svc:443/validate?timeout=30s": tls: failed to verify certificate: x509: certificate signed by unknown authority`)
	}
	return f.recorder.Run(ctx, c)
}

// cert-manager's webhook is Available before cainjector has given it its CA
// bundle: the ClusterIssuers are applied again a few seconds apart within
// the same run, which finishes; the add-ons timer's next run, ten minutes
// on, is not needed.
func TestIssuersWaitForTheWebhooksCABundle(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	const issuers = "kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f /var/lib/kforge/addons/kforge-issuers.yaml"
	rec := newRecorder(t, "controller")
	h := &failing{recorder: rec, prefix: "kubectl --kubeconfig /etc/kubernetes/admin.conf -n cert-manager wait"}
	a := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	a.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	var pauses []time.Duration
	b := a.withHost(&refusingTimes{recorder: rec, prefix: issuers, times: 3})
	b.Backoff.Sleep = func(_ context.Context, d time.Duration) error { pauses = append(pauses, d); return nil }
	if err := b.ApplyAddons(ctx); err != nil {
		t.Fatalf("the add-ons failed while the webhook's CA bundle was missing for three attempts: %v", err)
	}
	if n := strings.Count(strings.Join(rec.commands(), "\n"), issuers); n != 4 {
		t.Errorf("ClusterIssuers applied %d times, want 3 refused and 1 accepted", n)
	}
	if !slices.Equal(pauses, []time.Duration{issuersApplyPause, issuersApplyPause, issuersApplyPause}) {
		t.Errorf("pauses %v, want three of %s", pauses, issuersApplyPause)
	}

	// A webhook that never gets its bundle fails the run after the bound,
	// with the last refusal, for the timer to retry.
	c2 := newCloud(t)
	rec2 := newRecorder(t, "controller")
	a2 := c2.controller(&failing{recorder: rec2, prefix: "kubectl --kubeconfig /etc/kubernetes/admin.conf -n cert-manager wait"}, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	a2.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := a2.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	b2 := a2.withHost(&refusingTimes{recorder: rec2, prefix: issuers, times: issuersApplyAttempts})
	b2.Backoff.Sleep = func(context.Context, time.Duration) error { return nil }
	err := b2.ApplyAddons(ctx)
	if err == nil || !strings.Contains(err.Error(), "x509") || !strings.Contains(err.Error(), "24 attempts") {
		t.Fatalf("a webhook never trusted: %v, want the last refusal after 24 attempts", err)
	}
}
