package lab

import (
	"encoding/json"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kforge/kforge/internal/node"
)

// dnfStandIn is the lab's package manager on a node: the agent's
// prerequisites phase and its control-plane upgrade run `dnf install`
// exactly as on Amazon Linux 2023, and this installs the same packages from
// the lab's read-only package source instead of the Amazon Linux and
// Kubernetes repositories. The source holds one directory per Kubernetes
// release (PackagesMount/<version>). As on AWS, the Kubernetes repository
// serves one minor, the one /etc/yum.repos.d/kubernetes.repo names (the
// agent rewrites it to move a node to the next minor), and excludes the
// Kubernetes packages unless --disableexcludes=kubernetes is given; a
// release of another minor, or one the source lacks, is "No match", as
// dnf says. Packages the Debian base already carries (under their Debian
// names) are checked, not installed.
//
// The source's images stand in for the registry: containerd imports those
// of every release each time it starts (import-images), as
// registry.k8s.io serves every release.
//
// KFORGE_LAB_ROOT (a directory standing for /) and KFORGE_LAB_PACKAGES
// exist for the unit tests only.
const dnfStandIn = `#!/bin/sh
# kforge lab: dnf, standing in for the Amazon Linux and Kubernetes
# repositories with the lab's package source (read-only at $P).
set -eu
R=${KFORGE_LAB_ROOT:-}
P=${KFORGE_LAB_PACKAGES:-` + PackagesMount + `}
[ "${1:-}" = install ] || { echo "kforge lab dnf: only 'dnf install' is provided" >&2; exit 1; }
shift
nomatch() { echo "kforge lab dnf: No match for argument: $1${2:+ ($2)}" >&2; exit 1; }
# The package source's first release provides what does not depend on the
# Kubernetes release (containerd).
first=$(ls "$P" | head -n 1)
[ -n "$first" ] || { echo "kforge lab dnf: the package source $P is empty" >&2; exit 1; }
repo=$R/etc/yum.repos.d/kubernetes.repo
minor=
excluded=
if [ -f "$repo" ]; then
  minor=$(sed -n 's|^baseurl=.*/core:/stable:/v\([0-9]*\.[0-9]*\)/rpm/.*$|\1|p' "$repo")
  excluded=$(sed -n 's/^exclude=//p' "$repo")
fi
disable=
for a in "$@"; do [ "$a" = --disableexcludes=kubernetes ] && disable=1; done
debian() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed' || { echo "kforge lab dnf: $2 needs Debian's $1 in the base" >&2; exit 1; }; echo "kforge lab dnf: $2 is Debian's $1 (already installed)"; }
# k8spkg NAME-VERSION: the release directory the Kubernetes repository
# serves it from, or No match.
k8spkg() {
  name=${1%%-*} v=${1#*-}
  [ -n "$minor" ] || nomatch "$1" "no Kubernetes repository in /etc/yum.repos.d"
  case " $excluded " in *" $name "*) [ -n "$disable" ] || nomatch "$1" "excluded by the kubernetes repository; --disableexcludes=kubernetes installs it" ;; esac
  case "$v" in "$minor".*) ;; *) nomatch "$1" "the kubernetes repository serves v$minor" ;; esac
  [ -d "$P/$v" ] || nomatch "$1" "the package source has Kubernetes $(ls "$P" | tr '\n' ' ')"
  rel=$P/$v
}
for a in "$@"; do
  case "$a" in
  -y|--disableexcludes=*) ;;
  containerd)
    debian runc containerd
    install -m 0755 "$P/$first/bin/containerd" "$P/$first/bin/containerd-shim-runc-v2" "$P/$first/bin/ctr" "$R/usr/local/bin/"
    install -D -m 0644 "$P/$first/units/containerd.service" "$R/usr/lib/systemd/system/containerd.service"
    echo "kforge lab dnf: installed containerd" ;;
  kubelet-*)
    k8spkg "$a"
    install -m 0755 "$rel/bin/kubelet" "$R/usr/bin/kubelet"
    install -D -m 0644 "$rel/units/kubelet.service" "$R/usr/lib/systemd/system/kubelet.service"
    install -D -m 0644 "$rel/units/10-kubeadm.conf" "$R/usr/lib/systemd/system/kubelet.service.d/10-kubeadm.conf"
    # kubernetes-cni, which the kubelet package requires.
    install -d "$R/opt/cni/bin"
    install -m 0755 "$rel"/cni/* "$R/opt/cni/bin/"
    echo "kforge lab dnf: installed $a and kubernetes-cni" ;;
  kubeadm-*)
    k8spkg "$a"
    install -m 0755 "$rel/bin/kubeadm" "$R/usr/bin/kubeadm"
    echo "kforge lab dnf: installed $a" ;;
  kubectl-*)
    k8spkg "$a"
    install -m 0755 "$rel/bin/kubectl" "$R/usr/bin/kubectl"
    echo "kforge lab dnf: installed $a" ;;
  iptables-nft) debian iptables "$a" ;;
  iproute-tc) debian iproute2 "$a" ;;
  conntrack-tools) debian conntrack "$a" ;;
  util-linux|ethtool|socat|tar) debian "$a" "$a" ;;
  *) nomatch "$a" ;;
  esac
done
`

// importImages loads the images of every release in the package source
// into containerd's k8s.io namespace, each time containerd starts (a
// drop-in's ExecStartPost, so `systemctl restart containerd` returns only
// once they are there). A node may need another release's image than its
// own: during an upgrade, kubeadm's health-check Job runs the new
// release's pause on whichever node it is scheduled, an older worker
// included. What a node would pull from registry.k8s.io is present.
const importImages = `#!/bin/sh
# kforge lab: the registry's images, from the lab's package source.
set -eu
R=${KFORGE_LAB_ROOT:-}
P=${KFORGE_LAB_PACKAGES:-` + PackagesMount + `}
for f in "$P"/*/images/*.tar; do
  [ -e "$f" ] || continue
  "$R/usr/local/bin/ctr" -n k8s.io images import "$f" >/dev/null
done
echo "kforge lab: imported the images of Kubernetes" $(ls "$P")
`

const containerdDropIn = `# kforge lab: import the images of the lab's package source.
[Service]
ExecStartPost=/usr/local/lib/kforge-lab/import-images
`

// packageFiles adds the package source to a node: each release read-only
// at PackagesMount/<version>, the dnf stand-in, and the image import.
func packageFiles(spec *InstanceSpec, releases []*Packages) {
	for _, p := range releases {
		spec.NspawnArgs = append(spec.NspawnArgs, "--bind-ro="+p.Dir+":"+path.Join(PackagesMount, p.Kubernetes))
	}
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
