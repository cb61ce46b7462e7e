package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kforge/kforge/internal/node"
)

// dnfStandIn is the lab's package manager on a node: the agent's
// prerequisites phase runs `dnf install` exactly as on Amazon Linux 2023,
// and this installs the same packages from the lab's read-only package
// source instead of the Amazon Linux and Kubernetes repositories. Packages
// the Debian base already carries (under their Debian names) are checked,
// not installed; a package it does not know fails the install, as dnf's
// "No match for argument" does.
const dnfStandIn = `#!/bin/sh
# kforge lab: dnf, standing in for the Amazon Linux and Kubernetes
# repositories with the lab's package source (read-only at $P).
set -eu
P=` + PackagesMount + `
[ "${1:-}" = install ] || { echo "kforge lab dnf: only 'dnf install' is provided" >&2; exit 1; }
shift
k8s=$(cat "$P/kubernetes-version")
debian() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || { echo "kforge lab dnf: $2 needs Debian's $1 in the base" >&2; exit 1; }; echo "kforge lab dnf: $2 is Debian's $1 (already installed)"; }
k8spkg() {
  v=${1#*-}
  [ "$v" = "$k8s" ] || { echo "kforge lab dnf: No match for argument: $1 (the package source has Kubernetes $k8s)" >&2; exit 1; }
}
for a in "$@"; do
  case "$a" in
  -y|--disableexcludes=*) ;;
  containerd)
    debian runc containerd
    install -m 0755 "$P/bin/containerd" "$P/bin/containerd-shim-runc-v2" "$P/bin/ctr" /usr/local/bin/
    install -D -m 0644 "$P/units/containerd.service" /usr/lib/systemd/system/containerd.service
    echo "kforge lab dnf: installed containerd" ;;
  kubelet-*)
    k8spkg "$a"
    install -m 0755 "$P/bin/kubelet" /usr/bin/kubelet
    install -D -m 0644 "$P/units/kubelet.service" /usr/lib/systemd/system/kubelet.service
    install -D -m 0644 "$P/units/10-kubeadm.conf" /usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf
    # kubernetes-cni, which the kubelet package requires.
    install -d /opt/cni/bin
    install -m 0755 "$P"/cni/* /opt/cni/bin/
    echo "kforge lab dnf: installed $a and kubernetes-cni" ;;
  kubeadm-*|kubectl-*)
    k8spkg "$a"
    install -m 0755 "$P/bin/${a%%-*}" /usr/bin/
    echo "kforge lab dnf: installed $a" ;;
  iptables-nft) debian iptables "$a" ;;
  iproute-tc) debian iproute2 "$a" ;;
  conntrack-tools) debian conntrack "$a" ;;
  util-linux|ethtool|socat|tar) debian "$a" "$a" ;;
  *) echo "kforge lab dnf: No match for argument: $a" >&2; exit 1 ;;
  esac
done
`

// importImages loads the package source's images into containerd's k8s.io
// namespace each time containerd starts (a drop-in's ExecStartPost, so
// `systemctl restart containerd` returns only once they are there): what
// kubeadm's preflight would pull from registry.k8s.io is already present.
const importImages = `#!/bin/sh
# kforge lab: the images kubeadm expects, from the lab's package source.
set -eu
for f in ` + PackagesMount + `/images/*.tar; do
  /usr/local/bin/ctr -n k8s.io images import "$f" >/dev/null
done
`

const containerdDropIn = `# kforge lab: import the images of the lab's package source.
[Service]
ExecStartPost=/usr/local/lib/kforge-lab/import-images
`

// packageFiles adds the package source to a node: the source itself,
// read-only, the dnf stand-in, and the image import.
func packageFiles(spec *InstanceSpec, p *Packages) {
	spec.NspawnArgs = append(spec.NspawnArgs, "--bind-ro="+p.Dir+":"+PackagesMount)
	spec.Files["/usr/local/bin/dnf"] = File{Data: []byte(dnfStandIn), Mode: 0o755}
	spec.Files["/usr/local/lib/kforge-lab/import-images"] = File{Data: []byte(importImages), Mode: 0o755}
	spec.Files["/etc/systemd/system/containerd.service.d/10-kforge-lab-images.conf"] = File{Data: []byte(containerdDropIn), Mode: 0o644}
}

// packagesDescription is for logs.
func (p *Packages) String() string {
	return fmt.Sprintf("Kubernetes %s, containerd %s (%s)", p.Kubernetes, ContainerdVersion, filepath.Base(p.Dir))
}

// labNodeSettings is the agent's lab setting for this machine's nodes:
// the bridge CNI in place of Cilium, the add-ons without what cannot be
// fetched offline (cert-manager's bundle, its issuers) and without waiting
// for pods whose images cannot be pulled, runc without session keyrings
// (systemd-nspawn's seccomp filter refuses the keyring calls), low disk
// eviction thresholds (the node's disk is the whole machine's), and the
// kubelet allowed on cgroup v1 when this machine has cgroup v1.
func labNodeSettings() ([]byte, error) {
	return json.Marshal(node.LabSettings{BridgeCNI: true, OfflineAddons: true, CgroupV1: hostCgroupV1(), NoNewKeyring: true,
		RestrictOOMScoreAdj: !hasCapability(capSysResource), SharedDisk: true})
}

// hostCgroupV1 reports whether the machine mounts cgroup v1 (no unified
// hierarchy at /sys/fs/cgroup).
func hostCgroupV1() bool {
	_, err := os.Stat("/sys/fs/cgroup/cgroup.controllers")
	return err != nil
}

// capSysResource is CAP_SYS_RESOURCE, which lowering an oom_score_adj needs.
const capSysResource = 24

// hasCapability reports whether this process holds capability bit cap
// (CapEff in /proc/self/status): a node cannot hold what the host lacks.
func hasCapability(bit uint) bool {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "CapEff:"); ok {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && n&(1<<bit) != 0
		}
	}
	return false
}
