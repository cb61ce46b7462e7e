package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// ownerFile, in a lab's run directory, names the process that runs the
// lab: its PID and its start time in clock ticks since boot (field 22 of
// /proc/<pid>/stat), so that a PID the kernel has given to another process
// since does not keep a dead lab alive.
const ownerFile = "owner"

// owner identifies a process for as long as it runs.
type owner struct {
	PID   int
	Start uint64
}

func (o owner) String() string { return fmt.Sprintf("%d %d", o.PID, o.Start) }

// processOwner reads pid's identity from /proc.
func processOwner(pid int) (owner, error) {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return owner{}, fmt.Errorf("reading process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces and parentheses: the
	// fields that follow start after the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return owner{}, fmt.Errorf("process %d: unexpected stat %q", pid, s)
	}
	fields := strings.Fields(s[i+1:])
	const startField = 22 - 3 // fields after the name start at field 3
	if len(fields) <= startField {
		return owner{}, fmt.Errorf("process %d: stat has %d fields after its name", pid, len(fields))
	}
	start, err := strconv.ParseUint(fields[startField], 10, 64)
	if err != nil {
		return owner{}, fmt.Errorf("process %d: start time %q: %w", pid, fields[startField], err)
	}
	return owner{PID: pid, Start: start}, nil
}

// createRunDir makes the run directory dir owned by this process. The
// owner file is written before the directory gets its name, so another
// process never sees a run directory without one.
func createRunDir(dir string) error {
	self, err := processOwner(os.Getpid())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(dir), err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+"-")
	if err != nil {
		return fmt.Errorf("creating a run directory: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return errors.Join(fmt.Errorf("creating %s: %w", dir, err), os.RemoveAll(tmp))
	}
	if err := os.WriteFile(filepath.Join(tmp, ownerFile), []byte(self.String()+"\n"), 0o644); err != nil {
		return errors.Join(fmt.Errorf("recording the owner of %s: %w", dir, err), os.RemoveAll(tmp))
	}
	if err := os.Rename(tmp, dir); err != nil {
		return errors.Join(fmt.Errorf("creating %s: %w", dir, err), os.RemoveAll(tmp))
	}
	return nil
}

// runOwnerAlive tells whether the process recorded in run directory dir
// still runs, and why not when it does not. A run directory without an
// owner file has none (labs made it before owners were recorded).
func runOwnerAlive(dir string) (bool, string) {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false, "it records no owner"
	}
	var rec owner
	if _, err := fmt.Sscanf(string(b), "%d %d", &rec.PID, &rec.Start); err != nil || rec.PID <= 0 {
		return false, fmt.Sprintf("its owner record %q is unreadable", strings.TrimSpace(string(b)))
	}
	now, err := processOwner(rec.PID)
	if err != nil {
		return false, fmt.Sprintf("its process %d is gone", rec.PID)
	}
	if now.Start != rec.Start {
		return false, fmt.Sprintf("its process %d is gone (the PID is another process's now)", rec.PID)
	}
	return true, ""
}

// SweepOrphans removes every lab whose process is gone: a lab killed
// before its Close (a cancelled test binary, a machine reset under a
// running `lab serve`) keeps its namespaces, mounts and cgroups until
// swept, and a later lab's leftover count would find them. Labs whose
// process still runs are left alone. New calls it before it starts a lab.
func SweepOrphans(ctx context.Context, log io.Writer) error {
	cache, err := CacheDir()
	if err != nil {
		return err
	}
	root := filepath.Join(cache, "run")
	entries, err := os.ReadDir(root)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing %s: %w", root, err)
	}
	var errs []error
	for _, e := range entries {
		id := e.Name()
		if !e.IsDir() || strings.HasPrefix(id, ".") {
			continue // a run directory being created (createRunDir)
		}
		alive, why := runOwnerAlive(filepath.Join(root, id))
		if alive {
			continue
		}
		fmt.Fprintf(log, "lab: sweeping lab %s: %s\n", id, why)
		if err := Sweep(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("sweeping lab %s: %w", id, err))
		}
	}
	return errors.Join(errs...)
}
