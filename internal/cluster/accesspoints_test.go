package cluster

import (
	"strings"
	"testing"
)

// Before down's confirmation, the access points' line says what is left of
// the volumes' data: the recovery points where the applied plan has the
// backup policy, nothing where it has none, and nothing said against the
// emulator, whose plan leaves the policy out whatever the setting.
func TestVolumeBackupsBeforeDown(t *testing.T) {
	on := stateOf(t, "module.storage.aws_efs_file_system.this", "module.storage.aws_efs_backup_policy.this[0]")
	off := stateOf(t, "module.storage.aws_efs_file_system.this", "module.storage.data.aws_efs_backup_policy.x")
	if !backupPolicyInState(on) || backupPolicyInState(off) {
		t.Fatalf("backup policy in state: %v with the policy, %v with a data source only; want true, false", backupPolicyInState(on), backupPolicyInState(off))
	}
	for _, c := range []struct {
		backedUp, emulated bool
		want               string
	}{
		{true, false, "AWS Backup keeps its recovery points (efsBackups)"},
		{false, false, "kforge made no backup of it (efsBackups is off), so that data cannot be restored"},
		{false, true, ""},
	} {
		got := volumeBackups(c.backedUp, c.emulated)
		if c.want == "" && got != "" || !strings.Contains(got, c.want) {
			t.Errorf("backed up %v, emulated %v: %q, want %q", c.backedUp, c.emulated, got, c.want)
		}
	}
}
