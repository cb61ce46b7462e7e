package lab

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestSweepOrphansSparesLiveLabs gives four labs a run directory and a
// network namespace: one owned by this process, one whose process has
// exited, one whose PID now belongs to another process (this one, with
// another start time) and one that records no owner (a lab made before
// owners were recorded). SweepOrphans must remove the three orphans,
// namespace and directory, and leave the live lab whole. A lab killed
// before its Close used to stay on the machine until someone ran `lab
// sweep`, and the next lab's Down failed on its leftovers.
func TestSweepOrphansSparesLiveLabs(t *testing.T) {
	needNamespaces(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cache := t.TempDir()
	t.Setenv("KFORGE_LAB_CACHE", cache)
	root := filepath.Join(cache, "run")

	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatal(err)
	}
	self, err := processOwner(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	tag := fmt.Sprintf("%05d", os.Getpid()%100000)
	live, gone, reused, unowned := "l"+tag, "g"+tag, "r"+tag, "u"+tag
	if err := createRunDir(filepath.Join(root, live)); err != nil {
		t.Fatal(err)
	}
	for id, rec := range map[string]string{
		gone:    owner{PID: exited.Process.Pid, Start: self.Start}.String(),
		reused:  owner{PID: self.PID, Start: self.Start + 1}.String(),
		unowned: "",
	} {
		dir := filepath.Join(root, id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if rec != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(rec+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	ids := []string{live, gone, reused, unowned}
	for _, id := range ids {
		if _, err := run(ctx, "ip", "netns", "add", namePrefix+id+"-vpc"); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		for _, id := range ids {
			_ = Sweep(context.Background(), id)
		}
	})

	var log bytes.Buffer
	if err := SweepOrphans(ctx, &log); err != nil {
		t.Fatalf("SweepOrphans: %v\n%s", err, log.String())
	}
	t.Logf("SweepOrphans said:\n%s", log.String())
	for _, id := range ids {
		left, err := Inventory(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if id == live {
			if !slices.Contains(left.Namespaces, namePrefix+id+"-vpc") || len(left.Dirs) != 1 {
				t.Errorf("the live lab %s lost its namespace or run directory: %s", id, left)
			}
			continue
		}
		if left.Count() != 0 {
			t.Errorf("orphaned lab %s was not swept: %s", id, left)
		}
	}
	for id, why := range map[string]string{
		gone:    fmt.Sprintf("its process %d is gone", exited.Process.Pid),
		reused:  "the PID is another process's now",
		unowned: "it records no owner",
	} {
		if want := "sweeping lab " + id + ": "; !strings.Contains(log.String(), want) || !strings.Contains(log.String(), why) {
			t.Errorf("SweepOrphans did not say %q ... %q; it said:\n%s", want, why, log.String())
		}
	}
	if strings.Contains(log.String(), live) {
		t.Errorf("SweepOrphans named the live lab %s:\n%s", live, log.String())
	}
}
