package lab

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// userDataRunner stands in for cloud-init on a lab node: it reads the
// instance's user data through IMDSv2 and runs it once per instance, as
// cloud-init's scripts-user does on the first boot.
const userDataRunner = `#!/usr/bin/python3
# kforge lab: run this instance's user data once, read through IMDSv2.
import os, subprocess, sys, time, urllib.request

IMDS = "http://169.254.169.254"
DONE = "/var/lib/kforge-lab/user-data.done"

def get(path, token):
    req = urllib.request.Request(IMDS + path, headers={"X-aws-ec2-metadata-token": token})
    return urllib.request.urlopen(req, timeout=5).read()

if os.path.exists(DONE):
    sys.exit(0)
for attempt in range(30):
    try:
        tok = urllib.request.urlopen(urllib.request.Request(IMDS + "/latest/api/token", method="PUT",
            headers={"X-aws-ec2-metadata-token-ttl-seconds": "300"}), timeout=5).read().decode()
        data = get("/latest/user-data", tok)
        break
    except Exception as e:
        print("kforge-lab: metadata not ready:", e, flush=True)
        time.sleep(2)
else:
    sys.exit("kforge-lab: no user data from the metadata service")
os.makedirs("/var/lib/kforge-lab", exist_ok=True)
path = "/var/lib/kforge-lab/user-data"
with open(path, "wb") as f:
    f.write(data)
os.chmod(path, 0o700)
open(DONE, "w").close()
sys.exit(subprocess.call([path]))
`

const userDataUnit = `[Unit]
Description=kforge lab: run the instance's user data (stands in for cloud-init)
Wants=network-online.target
After=network-online.target

[Service]
Type=oneshot
ExecStart=/usr/local/lib/kforge-lab/run-user-data
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
`

// awsWrapper points the Debian AWS CLI (2.9, older than the CLI's own
// endpoint variable) at the emulator; everything else is the real CLI.
const awsWrapper = `#!/bin/sh
# kforge lab: the AWS CLI, sent to the lab's emulator.
exec /usr/bin/aws --endpoint-url "${AWS_ENDPOINT_URL:?}" "$@"
`

// nodeFiles are the lab's additions to every node: the VPC resolver, the
// emulator's endpoint for every unit, the AWS CLI wrapper and the user-data
// runner.
func nodeFiles(endpoint string, resolver netip.Addr) map[string]File {
	return map[string]File{
		"/etc/resolv.conf": {Data: []byte(fmt.Sprintf("nameserver %s\nsearch ec2.internal\n", resolver)), Mode: 0o644},
		"/etc/systemd/system.conf.d/kforge-lab.conf": {Data: []byte(fmt.Sprintf(
			"# kforge lab: every unit's AWS clients go to the lab's emulator.\n[Manager]\nDefaultEnvironment=\"KFORGE_ENDPOINT=%s\" \"AWS_ENDPOINT_URL=%s\"\n", endpoint, endpoint)), Mode: 0o644},
		"/etc/profile.d/kforge-lab.sh":                                             {Data: []byte(fmt.Sprintf("export KFORGE_ENDPOINT=%s AWS_ENDPOINT_URL=%s\n", endpoint, endpoint)), Mode: 0o644},
		"/usr/local/bin/aws":                                                       {Data: []byte(awsWrapper), Mode: 0o755},
		"/usr/local/lib/kforge-lab/run-user-data":                                  {Data: []byte(userDataRunner), Mode: 0o755},
		"/etc/systemd/system/kforge-lab-user-data.service":                         {Data: []byte(userDataUnit), Mode: 0o644},
		"/etc/systemd/system/multi-user.target.wants/kforge-lab-user-data.service": {Link: "/etc/systemd/system/kforge-lab-user-data.service"},
		// The kernel is the host's: its global settings are not a node's to
		// change (only its own network namespace's). Debian's defaults for
		// them are masked; the agent's net.* settings apply.
		"/etc/sysctl.d/50-pid-max.conf": {Link: "/dev/null"},
		// The kubelet opens /dev/kmsg (its OOM watcher) and refuses to
		// start without it; a container has none. As kind does, it is
		// the console, where nothing is ever read.
		"/etc/tmpfiles.d/kforge-lab-kmsg.conf": {Data: []byte("L /dev/kmsg - - - - /dev/console\n"), Mode: 0o644},
		"/etc/sysctl.d/99-protect-links.conf":  {Link: "/dev/null"},
	}
}

const modulesUnit = `[Unit]
Description=kforge lab: index the host kernel's built-in modules for modprobe
DefaultDependencies=no
Before=sysinit.target kforge-lab-user-data.service

[Service]
Type=oneshot
ExecStart=/sbin/depmod -a
RemainAfterExit=yes

[Install]
WantedBy=sysinit.target
`

// kernelModules lets modprobe in a node see the host kernel's modules: the
// host's module tree, read-only, when it has one; otherwise (a kernel with
// everything the agent loads built in, and no module tree) a
// modules.builtin naming those built-ins, indexed by depmod at boot.
func kernelModules(spec *InstanceSpec) error {
	var uts syscall.Utsname
	if err := syscall.Uname(&uts); err != nil {
		return fmt.Errorf("reading the kernel release: %w", err)
	}
	var b strings.Builder
	for _, c := range uts.Release {
		if c == 0 {
			break
		}
		b.WriteByte(byte(c))
	}
	release := b.String()
	dir := filepath.Join("/lib/modules", release)
	if _, err := os.Stat(dir); err == nil {
		spec.NspawnArgs = append(spec.NspawnArgs, "--bind-ro="+dir)
		return nil
	}
	builtin := builtinModules()
	var list strings.Builder
	for _, m := range []struct{ config, path string }{
		{"CONFIG_OVERLAY_FS", "kernel/fs/overlayfs/overlay.ko"},
		{"CONFIG_BRIDGE_NETFILTER", "kernel/net/bridge/br_netfilter.ko"},
		{"CONFIG_BRIDGE", "kernel/net/bridge/bridge.ko"},
		{"CONFIG_NETFILTER_XT_MATCH_CONNTRACK", "kernel/net/netfilter/xt_conntrack.ko"},
		{"CONFIG_VXLAN", "kernel/drivers/net/vxlan/vxlan.ko"},
	} {
		if builtin[m.config] {
			list.WriteString(m.path + "\n")
		}
	}
	spec.Files[dir+"/modules.builtin"] = File{Data: []byte(list.String()), Mode: 0o644}
	spec.Files[dir+"/modules.order"] = File{Data: nil, Mode: 0o644}
	spec.Files["/etc/systemd/system/kforge-lab-modules.service"] = File{Data: []byte(modulesUnit), Mode: 0o644}
	spec.Files["/etc/systemd/system/sysinit.target.wants/kforge-lab-modules.service"] = File{Link: "/etc/systemd/system/kforge-lab-modules.service"}
	return nil
}

// builtinModules reads which options the running kernel has built in
// (=y) from /proc/config.gz; empty when the kernel does not publish it.
func builtinModules() map[string]bool {
	out := map[string]bool{}
	f, err := os.Open("/proc/config.gz")
	if err != nil {
		return out
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return out
	}
	sc := bufio.NewScanner(zr)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && v == "y" {
			out[k] = true
		}
	}
	return out
}
