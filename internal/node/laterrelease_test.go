package node

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"os"
	"strings"
	"testing"
)

// clusterJSONWith is testdata/cluster.json with key set to value.
func clusterJSONWith(t *testing.T, values map[string]any) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/cluster.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		m[k] = v
	}
	edited, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return edited
}

// Every running agent reads the cluster.json the newest kforge wrote. A
// later release that widens the bounds of a setting must not stop an older
// agent's backups, tokens, approvals and drains: the agent reads the file,
// brings the backup interval within what it renders, and refuses the etcd
// quota only in the init that would configure it, naming the key.
func TestClusterJSONOfALaterReleaseKeepsOlderAgentsRunning(t *testing.T) {
	for _, tc := range []struct {
		quota, minutes, rendered int
	}{
		{quota: 64, minutes: 1, rendered: minBackupMinutes},
		{quota: 1, minutes: 2880, rendered: maxBackupMinutes},
	} {
		c, err := ParseCluster(clusterJSONWith(t, map[string]any{"etcd_quota_gib": tc.quota, "backup_interval_minutes": tc.minutes}))
		if err != nil {
			t.Fatalf("quota %d GiB, backups every %d min: %v; an older agent would stop every timer over it", tc.quota, tc.minutes, err)
		}
		var logs bytes.Buffer
		a := &Agent{Host: newRecorder(t, "cp"), Cluster: c, Options: Options{Role: RoleController}, Log: slog.New(slog.NewTextHandler(&logs, nil))}
		if got := a.unitSettings().BackupMinutes; got != tc.rendered {
			t.Errorf("backups every %d min render as %d, want %d", tc.minutes, got, tc.rendered)
		}
		a.warnUnitSettings()
		if !strings.Contains(logs.String(), "backup interval is outside what this agent renders") || !strings.Contains(logs.String(), "kforge roll <env> --control-plane") {
			t.Errorf("no warning naming the control plane's roll for an interval of %d min: %s", tc.minutes, logs.String())
		}
		if _, err := a.etcdQuotaGiB(false); err == nil || !strings.Contains(err.Error(), "etcd_quota_gib") {
			t.Errorf("kubeadm init would configure etcd with %d GiB: %v, want an error naming etcd_quota_gib", tc.quota, err)
		}
	}
	// An interval within bounds is rendered as it is, without a warning.
	var logs bytes.Buffer
	a := &Agent{Cluster: Cluster{BackupIntervalMinutes: 60}, Log: slog.New(slog.NewTextHandler(&logs, nil))}
	a.warnUnitSettings()
	if got := a.unitSettings().BackupMinutes; got != 60 || logs.Len() > 0 {
		t.Errorf("60 min rendered as %d: %s", got, logs.String())
	}
}
