package cluster

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestSnapshotFileCopiesOnlyWhenContentChanges(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "kforge")
	dst := filepath.Join(dir, "agent", "kforge-node")
	write := func(content string) {
		t.Helper()
		if err := os.WriteFile(src, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	read := func() string {
		t.Helper()
		b, err := os.ReadFile(dst)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}

	write("build one")
	if got, err := snapshotFile(src, dst); err != nil || got != dst {
		t.Fatalf("snapshotFile = %q, %v; want %q", got, err, dst)
	}
	if read() != "build one" {
		t.Fatalf("snapshot holds %q", read())
	}
	info, err := os.Stat(dst)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o755 {
		t.Errorf("snapshot mode %v, want 0755", info.Mode().Perm())
	}

	// Same content: the snapshot is left alone (a saved plan's hash holds).
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(dst, old, old); err != nil {
		t.Fatal(err)
	}
	if _, err := snapshotFile(src, dst); err != nil {
		t.Fatal(err)
	}
	if info, _ := os.Stat(dst); !info.ModTime().Equal(old) {
		t.Error("an unchanged agent was copied again")
	}

	// A rebuild: the snapshot follows.
	write("build two")
	if _, err := snapshotFile(src, dst); err != nil {
		t.Fatal(err)
	}
	if read() != "build two" {
		t.Errorf("snapshot holds %q after a rebuild", read())
	}

	if _, err := snapshotFile(filepath.Join(dir, "missing"), dst); err == nil {
		t.Error("a missing agent binary gave no error")
	}
}
