package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kforge/kforge/internal/certstore"
)

// TestEtcdBackupFromTheBucket reads the latest snapshot's time and size
// from the certs bucket on the emulator: none before the first backup, a
// fresh one after it.
func TestEtcdBackupFromTheBucket(t *testing.T) {
	_, _, b := certsBucketForTest(t)
	ctx := context.Background()

	none, err := latestEtcdBackup(ctx, b, 15*time.Minute)
	if err != nil {
		t.Fatalf("no snapshot yet: %v", err)
	}
	if !none.Taken.IsZero() || !strings.Contains(none.Problem(time.Now()), "no etcd backup in the certs bucket") {
		t.Errorf("no snapshot yet: %+v, problem %q", none, none.Problem(time.Now()))
	}

	putObject(t, b, certstore.EtcdSnapshotKey, []byte(strings.Repeat("e", 3<<20)))
	fresh, err := latestEtcdBackup(ctx, b, 15*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if age := time.Since(fresh.Taken); age > time.Minute || age < -time.Minute || fresh.Bytes != 3<<20 {
		t.Errorf("just written: %+v (age %s)", fresh, age)
	}
	if p := fresh.Problem(time.Now()); p != "" {
		t.Errorf("a fresh backup is a problem: %s", p)
	}
	if line := fresh.Line(time.Now()); line != "etcd backup controller/etcd/latest.db taken 0m ago (3 MiB; every 15m)" {
		t.Errorf("line %q", line)
	}
}

// TestEtcdBackupIsAProblemAfterTwoMissedRuns: one late or failed backup
// is no problem yet, two in a row are, whatever the interval.
func TestEtcdBackupIsAProblemAfterTwoMissedRuns(t *testing.T) {
	now := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		interval, age time.Duration
		want          string
	}{
		{15 * time.Minute, 14 * time.Minute, ""},
		{15 * time.Minute, time.Hour, ""},
		{15 * time.Minute, time.Hour + time.Minute, "(controller/etcd/latest.db) is 1h1m old, and backups run every 15m (controlPlane.backupInterval"},
		{5 * time.Minute, 41 * time.Minute, "is 41m old, and backups run every 5m"},
		{24 * time.Hour, 48*time.Hour + 30*time.Minute, ""},
		{24 * time.Hour, 49 * time.Hour, "is 49h old, and backups run every 24h"},
	} {
		bk := EtcdBackup{Key: certstore.EtcdSnapshotKey, Taken: now.Add(-tc.age), Interval: tc.interval}
		got := bk.Problem(now)
		switch {
		case tc.want == "" && got != "":
			t.Errorf("every %s, %s old: %s", tc.interval, tc.age, got)
		case tc.want != "" && !strings.Contains(got, tc.want):
			t.Errorf("every %s, %s old: %q, want %q", tc.interval, tc.age, got, tc.want)
		case tc.want != "" && !strings.Contains(got, "journalctl -u kforge-backup"):
			t.Errorf("the problem names no way to look: %s", got)
		}
	}

	r := ValidationResult{Nodes: []NodeState{{Name: "n", Ready: true}},
		EtcdBackup: &EtcdBackup{Key: certstore.EtcdSnapshotKey, Taken: time.Now().Add(-3 * time.Hour), Interval: 15 * time.Minute}}
	r.evaluate()
	if len(r.Problems) != 1 || !strings.Contains(r.Problems[0], "is 3h old") {
		t.Errorf("a stale backup does not fail validate: %q", r.Problems)
	}
}
