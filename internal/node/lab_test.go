package node

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

// TestLabSettingsOnlyLocal: the lab's node setting is nil without the file,
// read in the local environment, and refused (naming the file and the fix)
// in any other environment, so no cluster on AWS runs a lab substitution.
func TestLabSettingsOnlyLocal(t *testing.T) {
	h := newRecorder(t, "lab")
	a := &Agent{Host: h, Cluster: Cluster{Environment: "local"}}
	if s, err := a.labSettings(); err != nil || s != nil {
		t.Fatalf("without the file: %v, %v; want nil, nil", s, err)
	}
	_ = h.WriteFile(LabSettingsPath, []byte(`{"bridgeCNI":true,"cgroupV1":true,"offlineAddons":true}`), 0o644)
	s, err := a.labSettings()
	if err != nil || s == nil || !s.BridgeCNI || !s.CgroupV1 || !s.OfflineAddons {
		t.Fatalf("local: %+v, %v", s, err)
	}
	for _, env := range []string{"dev", "staging", "prod", ""} {
		a.Cluster.Environment = env
		_, err := a.labSettings()
		if err == nil || !strings.Contains(err.Error(), LabSettingsPath) || !strings.Contains(err.Error(), "lab-only") {
			t.Errorf("environment %q: err %v, want a refusal naming %s", env, err, LabSettingsPath)
		}
	}
	a.Cluster.Environment = "local"
	_ = h.WriteFile(LabSettingsPath, []byte(`{"cni":"bridge"}`), 0o644)
	if _, err := a.labSettings(); err == nil {
		t.Error("an unknown key was accepted")
	}
}

// TestBridgeConflist: the reference plugins' chain on the node's pod range.
func TestBridgeConflist(t *testing.T) {
	b, err := bridgeConflist("10.244.1.0/24")
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		CNIVersion string `json:"cniVersion"`
		Plugins    []struct {
			Type string `json:"type"`
			IPAM struct {
				Type   string                `json:"type"`
				Ranges [][]map[string]string `json:"ranges"`
			} `json:"ipam"`
		} `json:"plugins"`
	}
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Plugins) != 2 || c.Plugins[0].Type != "bridge" || c.Plugins[0].IPAM.Type != "host-local" ||
		c.Plugins[0].IPAM.Ranges[0][0]["subnet"] != "10.244.1.0/24" || c.Plugins[1].Type != "portmap" {
		t.Errorf("conflist: %s", b)
	}
	if _, err := bridgeConflist("not-a-cidr"); err == nil {
		t.Error("a malformed pod range was accepted")
	}
}

// TestUptimeFromInit: the ready deadline counts from the start of PID 1,
// so a system in a container on a kernel that booted hours earlier (a lab
// node) is not taken for one that failed for hours.
func TestUptimeFromInit(t *testing.T) {
	h := newRecorder(t, "uptime")
	_ = h.WriteFile("/proc/uptime", []byte("14400.00 200.00\n"), 0o444)
	if up, err := uptime(h); err != nil || up != 4*time.Hour {
		t.Fatalf("without /proc/1/stat: %v, %v; want 4h", up, err)
	}
	// systemd (with a space in its name) started 14280 s after the kernel.
	_ = h.WriteFile("/proc/1/stat", []byte("1 (sys temd) S 0 1 1 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 1428000 1000 100 18446744073709551615\n"), 0o444)
	if up, err := uptime(h); err != nil || up != 2*time.Minute {
		t.Fatalf("with PID 1 started at 14280 s: %v, %v; want 2m", up, err)
	}
}

// TestRestoreNotDoneUntilEtcd: with the CA back but the etcd half of a
// restore pending (it failed), the restore phase is not done, so the next
// attempt restores etcd instead of starting an empty one under the old CA.
func TestRestoreNotDoneUntilEtcd(t *testing.T) {
	h := newRecorder(t, "restore")
	a := &Agent{Host: h}
	_ = h.WriteFile(caCert, []byte("ca"), 0o644)
	_ = h.WriteFile(restorePending, []byte("now"), 0o600)
	if done, _ := a.restoreDone(t.Context()); done {
		t.Fatal("restore counted as done with its etcd half pending")
	}
	delete(h.files, restorePending)
	if done, _ := a.restoreDone(t.Context()); !done {
		t.Fatal("restore not done with the CA back and nothing pending")
	}
}

// TestLabTokenTTL: the lab's short token lifetime is what the token is
// created with and what the join material says; the refresh rotates once
// half of it is left, the timer drop-in runs every sixth of it, and a
// value outside 1m..24h is refused naming the setting.
func TestLabTokenTTL(t *testing.T) {
	c, h, a := controllerWithPKI(t)
	ctx := context.Background()
	a.Cluster.Environment = "local"
	_ = h.WriteFile(LabSettingsPath, []byte(`{"tokenTTL":"3m"}`), 0o644)
	if rotated, err := a.RefreshToken(ctx); err != nil || !rotated {
		t.Fatalf("first refresh: %v %v", rotated, err)
	}
	if !h.ran("kubeadm token create --kubeconfig /etc/kubernetes/admin.conf --ttl 3m0s") {
		t.Fatalf("token not created with the lab's TTL: %v", h.commands())
	}
	jm, err := ReadJoin(ctx, c.bucket)
	if err != nil || !jm.Expires.Equal(t0.Add(3*time.Minute)) {
		t.Fatalf("join material %+v, %v; want it to expire at %s", jm, err, t0.Add(3*time.Minute))
	}
	a.Now = fixedClock(t0.Add(89 * time.Second))
	if rotated, err := a.RefreshToken(ctx); err != nil || rotated {
		t.Fatalf("with more than half left: rotated=%v err=%v", rotated, err)
	}
	a.Now = fixedClock(t0.Add(91 * time.Second))
	if rotated, err := a.RefreshToken(ctx); err != nil || !rotated {
		t.Fatalf("with less than half left: rotated=%v err=%v", rotated, err)
	}
	if a.lab, err = a.labSettings(); err != nil {
		t.Fatal(err)
	}
	if err := a.labTokenTimer(ctx); err != nil {
		t.Fatal(err)
	}
	// One reset (an empty assignment clears every monotonic trigger), then
	// the lab's: a second reset would clear the first of them.
	if got := h.file(labTokenTimerDropIn); !strings.Contains(got, "[Timer]\nOnBootSec=\nOnActiveSec=30s\nOnUnitActiveSec=30s\n") ||
		strings.Count(got, "Sec=\n") != 1 || !strings.Contains(got, "RandomizedDelaySec=0") {
		t.Errorf("timer drop-in:\n%s", got)
	}
	for _, bad := range []string{"30s", "25h", "soon"} {
		_ = h.WriteFile(LabSettingsPath, []byte(`{"tokenTTL":"`+bad+`"}`), 0o644)
		if _, err := a.RefreshToken(ctx); err == nil || !strings.Contains(err.Error(), "tokenTTL") {
			t.Errorf("tokenTTL %q: err %v, want a refusal naming tokenTTL", bad, err)
		}
	}
	// Without the setting, production's lifetime and no drop-in.
	delete(h.files, LabSettingsPath)
	if tt, err := a.tokenTimes(); err != nil || tt.ttl != TokenTTL || tt.refreshBefore != RefreshBefore || tt.grace != TokenGrace {
		t.Errorf("without the lab setting: %+v, %v", tt, err)
	}
}

// TestLabOfflineAddons: a lab node applies kforge's add-on manifests as a
// real control plane does, but fetches nothing from the internet (no
// cert-manager bundle), applies no ClusterIssuers, waits for no pod, and
// leaves out the Cilium policy when the bridge CNI replaces Cilium; the
// marker makes the next timer run a no-op.
func TestLabOfflineAddons(t *testing.T) {
	c := newCloud(t)
	rec := newRecorder(t, "lab-controller")
	a := c.controller(rec, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	a.Cluster.Environment = "local"
	_ = rec.WriteFile(LabSettingsPath, []byte(`{"bridgeCNI":true,"offlineAddons":true}`), 0o644)
	if err := a.ApplyAddons(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, prefix := range []string{"curl", "kubectl --kubeconfig /etc/kubernetes/admin.conf -n cert-manager wait",
		"kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f /var/lib/kforge/addons/kforge-issuers.yaml"} {
		if rec.ran(prefix) {
			t.Errorf("a lab node ran %q", prefix)
		}
	}
	if !rec.ran("kubectl --kubeconfig /etc/kubernetes/admin.conf apply --server-side --force-conflicts -f /var/lib/kforge/addons/kforge-addons.yaml") {
		t.Fatalf("kforge's add-ons were not applied: %q", rec.commands())
	}
	m := rec.file("/var/lib/kforge/addons/kforge-addons.yaml")
	for _, want := range []string{"kind: Deployment", "name: cluster-autoscaler", "name: metrics-server", "name: traefik", "name: efs-csi-node", "kind: StorageClass"} {
		if !strings.Contains(m, want) {
			t.Errorf("the lab's add-on manifests lack %q", want)
		}
	}
	if strings.Contains(m, "cilium.io") {
		t.Error("the lab applied a Cilium kind without Cilium")
	}
	before := len(rec.commands())
	if err := a.ApplyAddons(t.Context()); err != nil {
		t.Fatal(err)
	}
	if extra := rec.commands()[before:]; len(extra) != 0 {
		t.Errorf("applied add-ons were applied again: %q", extra)
	}

	// Without the bridge CNI (Cilium installed) the policy stays.
	rec2 := newRecorder(t, "lab-controller-cilium")
	b := c.controller(rec2, "10.0.1.11", "i-0aaaaaaaaaaaaaaab", fixedClock(t0))
	b.Cluster.Environment = "local"
	_ = rec2.WriteFile(LabSettingsPath, []byte(`{"offlineAddons":true}`), 0o644)
	if err := b.ApplyAddons(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(rec2.file("/var/lib/kforge/addons/kforge-addons.yaml"), "CiliumClusterwideNetworkPolicy") {
		t.Error("the Cilium policy was left out although Cilium is the CNI")
	}
}
