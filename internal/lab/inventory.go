package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Leftovers is what a lab (or all labs) left on the machine.
type Leftovers struct {
	Namespaces []string // entries in /run/netns
	Mounts     []string // mount points under the lab's directories
	Processes  []string // "pid comm" of processes in lab namespaces or started for it
	Links      []string // lab links in the host's own network namespace
	Dirs       []string // instance layers and run directories left on disk
	Cgroups    []string // node cgroups (cgroup v1 machines, cgroups.go)
}

// Count is the total number of leftovers.
func (l Leftovers) Count() int {
	return len(l.Namespaces) + len(l.Mounts) + len(l.Processes) + len(l.Links) + len(l.Dirs) + len(l.Cgroups)
}

func (l Leftovers) String() string {
	return fmt.Sprintf("%d namespaces %v, %d mounts %v, %d processes %v, %d links %v, %d directories %v, %d cgroups %v",
		len(l.Namespaces), l.Namespaces, len(l.Mounts), l.Mounts, len(l.Processes), l.Processes, len(l.Links), l.Links, len(l.Dirs), l.Dirs, len(l.Cgroups), l.Cgroups)
}

// Inventory lists what lab labID left behind; an empty labID means every
// lab. inodes are namespace inodes the lab created (Network.Inodes): a
// process still inside one is found even after its name is gone.
func Inventory(labID string, inodes map[string]uint64) (Leftovers, error) {
	var out Leftovers
	prefix := namePrefix + labID
	entries, err := os.ReadDir(NetNSDir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return out, fmt.Errorf("listing %s: %w", NetNSDir, err)
	}
	nsSet := map[string]bool{}
	for _, ino := range inodes {
		nsSet[fmt.Sprintf("net:[%d]", ino)] = true
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) {
			out.Namespaces = append(out.Namespaces, e.Name())
			// Processes inside a namespace that still exists are found by
			// its inode even when the lab that made it is gone.
			var st syscall.Stat_t
			if syscall.Stat(filepath.Join(NetNSDir, e.Name()), &st) == nil {
				nsSet[fmt.Sprintf("net:[%d]", st.Ino)] = true
			}
		}
	}
	cache, err := CacheDir()
	if err != nil {
		return out, err
	}
	runDir := filepath.Join(cache, "run", labID)
	mounts, err := mountPoints()
	if err != nil {
		return out, err
	}
	for _, m := range mounts {
		if strings.HasPrefix(m, runDir) || strings.HasPrefix(m, filepath.Join(NetNSDir, prefix)) {
			out.Mounts = append(out.Mounts, m)
		}
	}
	procs, _ := os.ReadDir("/proc")
	self := strconv.Itoa(os.Getpid())
	for _, p := range procs {
		if _, err := strconv.Atoi(p.Name()); err != nil || p.Name() == self {
			continue
		}
		cmdline, _ := os.ReadFile("/proc/" + p.Name() + "/cmdline")
		netns, _ := os.Readlink("/proc/" + p.Name() + "/ns/net")
		if nsSet[netns] || strings.Contains(string(cmdline), prefix) || strings.Contains(string(cmdline), runDir+"/") {
			comm, _ := os.ReadFile("/proc/" + p.Name() + "/comm")
			out.Processes = append(out.Processes, p.Name()+" "+strings.TrimSpace(string(comm)))
		}
	}
	links, _ := os.ReadDir("/sys/class/net")
	for _, l := range links {
		if strings.HasPrefix(l.Name(), "kl"+labID) || strings.HasPrefix(l.Name(), prefix) {
			out.Links = append(out.Links, l.Name())
		}
	}
	if labID == "" {
		dirs, _ := os.ReadDir(runDir)
		for _, d := range dirs {
			out.Dirs = append(out.Dirs, filepath.Join(runDir, d.Name()))
		}
	} else if _, err := os.Stat(runDir); err == nil {
		out.Dirs = append(out.Dirs, runDir)
	}
	out.Cgroups = labCgroups(labID)
	sort.Strings(out.Mounts)
	return out, nil
}

// mountPoints lists the host's mount points, unescaped.
func mountPoints() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("reading mounts: %w", err)
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 {
			out = append(out, unescapeMount(fields[4]))
		}
	}
	return out, sc.Err()
}

func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if v, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(v))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func mounted(path string) bool {
	mounts, err := mountPoints()
	if err != nil {
		return false
	}
	for _, m := range mounts {
		if m == path {
			return true
		}
	}
	return false
}

// Sweep removes what lab labID (every lab when empty) left behind after a
// crash: it kills the processes, unmounts and deletes the namespaces.
func Sweep(ctx context.Context, labID string) error {
	left, err := Inventory(labID, nil)
	if err != nil {
		return err
	}
	for _, p := range left.Processes {
		pid, _ := strconv.Atoi(strings.Fields(p)[0])
		if pid > 1 {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if len(left.Processes) > 0 {
		time.Sleep(500 * time.Millisecond)
	}
	var errs []error
	// Deepest first, so nested mounts go before their parents.
	sort.Sort(sort.Reverse(sort.StringSlice(left.Mounts)))
	for _, m := range left.Mounts {
		if strings.HasPrefix(m, NetNSDir+"/") {
			continue // ip netns del unmounts it
		}
		if _, err := run(ctx, "umount", "-l", m); err != nil {
			errs = append(errs, err)
		}
	}
	for _, ns := range left.Namespaces {
		if _, err := run(ctx, "ip", "netns", "del", ns); err != nil {
			errs = append(errs, err)
		}
	}
	if err := removeCgroups(left.Cgroups); err != nil {
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		for _, d := range left.Dirs {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, fmt.Errorf("removing %s: %w", d, err))
			}
		}
	}
	return errors.Join(errs...)
}
