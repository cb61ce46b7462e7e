package kubeadm

import "fmt"

// PatchesDir is the directory of kubeadm patches the node agent writes
// before kubeadm init, join and upgrade apply, and names in their
// configuration (patches.directory) or with --patches.
const PatchesDir = "/etc/kforge/kubeadm-patches"

// KubeletPatchFile is the node's own patch to the cluster-wide
// KubeletConfiguration: target kubeletconfiguration, a JSON merge patch
// (kubeadm's "target[suffix][+patchtype].extension"). kubeadm applies it to
// the /var/lib/kubelet/config.yaml it writes on this node only; the
// kubelet-config ConfigMap stays as rendered.
const KubeletPatchFile = "kubeletconfiguration+merge.yaml"

// KubeletPatchPath is where the agent writes KubeletPatchFile.
const KubeletPatchPath = PatchesDir + "/" + KubeletPatchFile

// EphemeralStorageReserved is the node's fixed ephemeral-storage
// reservation, as on EKS and GKE.
const EphemeralStorageReserved = "1Gi"

// Reservation is what a node keeps from its pods for the system: the
// kubelet, containerd, systemd and journald, and the Cilium agent, none of
// which the scheduler counts otherwise.
type Reservation struct {
	CPUMillicores int64
	MemoryMiB     int64
}

// mebibyte is 1 MiB in bytes.
const mebibyte = 1 << 20

// step is one range of a reservation curve: its share, in basis points,
// of the amount between the previous step's bound and upTo (in the curve's
// unit: GiB or cores); the last step has no bound (upTo 0).
type step struct{ upTo, basisPoints int64 }

// memoryCurve is GKE's documented memory reservation: 25% of the first
// 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112 and 2%
// of everything above 128 GiB.
var memoryCurve = []step{{4, 2500}, {8, 2000}, {16, 1000}, {128, 600}, {0, 200}}

// cpuCurve is GKE's (and EKS's) CPU reservation: 6% of the first core, 1%
// of the second, 0.5% of the third and fourth, 0.25% of every core above
// the fourth.
var cpuCurve = []step{{1, 600}, {2, 100}, {4, 50}, {0, 25}}

// reserveOf applies curve to total, whose curve unit is unit: each step's
// share rounded down, summed.
func reserveOf(curve []step, total, unit int64) int64 {
	var reserved, from int64
	for _, s := range curve {
		to := s.upTo * unit
		if s.upTo == 0 || to > total {
			to = total
		}
		if to > from {
			reserved += (to - from) * s.basisPoints / 10000
		}
		if to == total {
			break
		}
		from = to
	}
	return reserved
}

// Reserve computes the reservation of a node with cpus CPUs and
// memoryBytes of memory (MemTotal). CPU in millicores, each step rounded
// down as EKS's nodeadm does (5 CPUs: 82m); memory in bytes, rounded up to
// a whole MiB.
func Reserve(cpus int, memoryBytes int64) Reservation {
	memory := reserveOf(memoryCurve, memoryBytes, 1<<30)
	return Reservation{
		CPUMillicores: reserveOf(cpuCurve, int64(cpus)*1000, 1000),
		MemoryMiB:     (memory + mebibyte - 1) / mebibyte,
	}
}

// KubeReserved is the reservation as the kubelet's kubeReserved.
func (r Reservation) KubeReserved() map[string]string {
	return map[string]string{
		"cpu":               fmt.Sprintf("%dm", r.CPUMillicores),
		"memory":            fmt.Sprintf("%dMi", r.MemoryMiB),
		"ephemeral-storage": EphemeralStorageReserved,
	}
}

// KubeletReservedPatch is the merge patch of KubeletPatchFile: only
// kubelet.config.k8s.io/v1beta1 KubeletConfiguration's kubeReserved.
type KubeletReservedPatch struct {
	KubeReserved map[string]string `json:"kubeReserved"`
}

// RenderKubeletPatch returns the contents of KubeletPatchFile for r.
func RenderKubeletPatch(r Reservation) ([]byte, error) {
	if r.CPUMillicores <= 0 || r.MemoryMiB <= 0 {
		return nil, fmt.Errorf("kubelet reservation %+v: CPU and memory must be positive", r)
	}
	return marshalDocs(KubeletReservedPatch{KubeReserved: r.KubeReserved()})
}
