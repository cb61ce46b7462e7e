package node

import (
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
	_ = h.WriteFile(LabSettingsPath, []byte(`{"bridgeCNI":true,"cgroupV1":true,"skipAddons":true}`), 0o644)
	s, err := a.labSettings()
	if err != nil || s == nil || !s.BridgeCNI || !s.CgroupV1 || !s.SkipAddons {
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
