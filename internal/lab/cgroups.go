package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// On a cgroup v1 machine systemd-nspawn leaves a node in the cgroups of the
// process that started it (the host has no systemd to give it a unit) and
// mounts the controller hierarchies read-only: a kubelet there cannot
// create its pod cgroups, and if they were writable every node would share
// the host's root cgroups. So each node gets a cgroup of its own in every
// v1 hierarchy, kforge-lab/<lab>-n<index>, which systemd-nspawn is started
// in: its cgroup namespace makes that cgroup the node's root, and the
// node's kforge-lab-kernel unit makes its hierarchies writable (only its
// own subtree is visible). The cgroups are removed when the node stops.

const cgroupRoot = "/sys/fs/cgroup"

// cgroupParent is the directory in each hierarchy holding the lab's nodes.
const cgroupParent = "kforge-lab"

// v1Hierarchies lists the mounted cgroup v1 hierarchies (cpu, memory,
// systemd, …), or nil on a unified (v2) machine.
func v1Hierarchies() []string {
	if !hostCgroupV1() {
		return nil
	}
	entries, err := os.ReadDir(cgroupRoot)
	if err != nil {
		return nil
	}
	var out []string
	for _, e := range entries {
		p := filepath.Join(cgroupRoot, e.Name())
		if st, err := os.Lstat(p); err != nil || !st.IsDir() {
			continue // cpu,cpuacct style links
		}
		if _, err := os.Stat(filepath.Join(p, "cgroup.procs")); err == nil {
			out = append(out, p)
		}
	}
	sort.Strings(out)
	return out
}

// nodeCgroups creates the node's cgroup in every v1 hierarchy and returns
// their directories. cpuset needs its cpus and mems set before a process
// may join, copied from the parent as the kernel does for cgroup v2.
func nodeCgroups(name string) ([]string, error) {
	var dirs []string
	for _, h := range v1Hierarchies() {
		parent := filepath.Join(h, cgroupParent)
		dir := filepath.Join(parent, name)
		for _, d := range []string{parent, dir} {
			if err := os.Mkdir(d, 0o755); err != nil && !os.IsExist(err) {
				return dirs, fmt.Errorf("creating cgroup %s: %w", d, err)
			}
			if filepath.Base(h) == "cpuset" {
				for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
					v, err := os.ReadFile(filepath.Join(filepath.Dir(d), f))
					if err != nil {
						return dirs, fmt.Errorf("reading %s: %w", f, err)
					}
					if err := os.WriteFile(filepath.Join(d, f), v, 0o644); err != nil {
						return dirs, fmt.Errorf("setting %s of %s: %w", f, d, err)
					}
				}
			}
		}
		dirs = append(dirs, dir)
	}
	return dirs, nil
}

// removeCgroups removes cgroup directories and everything below them,
// deepest first (a cgroup is removed with rmdir once it has no process).
// The processes of a node that just stopped may take a moment to be
// reaped, so it tries for a few seconds.
func removeCgroups(dirs []string) error {
	var err error
	for i := 0; i < 20; i++ {
		if err = removeCgroupsOnce(dirs); err == nil {
			return nil
		}
		time.Sleep(250 * time.Millisecond)
	}
	return err
}

func removeCgroupsOnce(dirs []string) error {
	var failed []string
	for _, d := range dirs {
		var all []string
		_ = filepath.WalkDir(d, func(p string, e os.DirEntry, err error) error {
			if err == nil && e.IsDir() {
				all = append(all, p)
			}
			return nil
		})
		for i := len(all) - 1; i >= 0; i-- {
			if err := os.Remove(all[i]); err != nil && !os.IsNotExist(err) {
				failed = append(failed, all[i])
			}
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("cgroups left (processes still in them?): %s", strings.Join(failed, ", "))
	}
	return nil
}

// labCgroups lists the node cgroups of lab id ("" for every lab).
func labCgroups(id string) []string {
	var out []string
	for _, h := range v1Hierarchies() {
		m, _ := filepath.Glob(filepath.Join(h, cgroupParent, id+"*"))
		for _, p := range m {
			if st, err := os.Stat(p); err == nil && st.IsDir() {
				out = append(out, p)
			}
		}
	}
	return out
}

// startInCgroups wraps a command so that it joins dirs before it execs:
// everything it starts (the node) is born inside them.
func startInCgroups(dirs []string, name string, args []string) (string, []string) {
	if len(dirs) == 0 {
		return name, args
	}
	script := `for d in ` + strings.Join(dirs, " ") + `; do echo $$ > "$d/cgroup.procs" || exit 1; done; exec "$@"`
	return "/bin/sh", append([]string{"-c", script, "sh", name}, args...)
}

// kernelViewUnit makes the node's view of the shared kernel what a
// kubelet expects of a machine of its own: its cgroup hierarchies (its own
// subtree, see above) writable, the three kernel settings the kubelet
// otherwise sets on the host (vm.overcommit_memory=1, kernel.panic=10,
// kernel.panic_on_oops=1) shown to it as set, and the inotify limits the
// agent raises (at the kernel's defaults until it does), all from files
// bound over them, so the host's settings are never changed.
const kernelViewUnit = `[Unit]
Description=kforge lab: the node's view of the shared kernel (cgroups, kubelet sysctls)
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target systemd-sysctl.service

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/lib/kforge-lab/kernel-view

[Install]
WantedBy=sysinit.target
`

const kernelViewScript = `#!/bin/sh
# kforge lab: see kernel-view in internal/lab/cgroups.go.
set -eu
# systemd-nspawn mounted the hierarchies from outside the node's cgroup
# namespace (read-only, their mount root the host's path of the node's
# cgroup, which runc then resolves to paths outside /sys/fs/cgroup): mount
# each again from inside, writable, rooted at the node's own cgroup.
if [ ! -e /sys/fs/cgroup/cgroup.controllers ]; then
  mount -o remount,rw /sys/fs/cgroup || true
  awk '($9 == "cgroup" || $9 == "cgroup2") && $5 ~ "^/sys/fs/cgroup/" {print $9, $5, $NF}' /proc/self/mountinfo |
  while read -r fs mp opts; do
    o=$(echo "$opts" | tr , '\n' | grep -v -x -e rw -e ro | paste -sd, -)
    umount -l "$mp"
    if [ "$fs" = cgroup2 ]; then mount -t cgroup2 cgroup2 "$mp"; else mount -t cgroup -o "$o" cgroup "$mp"; fi
  done
fi
d=/run/kforge-lab/sysctl
mkdir -p $d
for kv in vm/overcommit_memory=1 kernel/panic=10 kernel/panic_on_oops=1 fs/inotify/max_user_instances=128 fs/inotify/max_user_watches=8192; do
  k=${kv%%=*}; f=$d/$(echo "$k" | tr / _)
  echo "${kv#*=}" > "$f"
  mount --bind "$f" "/proc/sys/$k"
done
`

// kernelView adds the unit and its script to a node.
func kernelView(spec *InstanceSpec) {
	spec.Files["/usr/local/lib/kforge-lab/kernel-view"] = File{Data: []byte(kernelViewScript), Mode: 0o755}
	spec.Files["/etc/systemd/system/kforge-lab-kernel.service"] = File{Data: []byte(kernelViewUnit), Mode: 0o644}
	spec.Files["/etc/systemd/system/sysinit.target.wants/kforge-lab-kernel.service"] = File{Link: "/etc/systemd/system/kforge-lab-kernel.service"}
}
