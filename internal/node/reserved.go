package node

import (
	"bufio"
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/kforge/kforge/internal/kubeadm"
)

const (
	// memInfoPath is where the kubelet (cAdvisor) reads the node's memory
	// capacity: MemTotal.
	memInfoPath = "/proc/meminfo"
	// cpuOnlinePath lists the online CPUs ("0-1", "0,2-5"), whose count is
	// the kubelet's CPU capacity.
	cpuOnlinePath = "/sys/devices/system/cpu/online"
)

// HostResources reads the node's CPU count and memory (MemTotal, in
// bytes) on h, as the kubelet reports them for its capacity.
func HostResources(h Host) (cpus int, memoryBytes int64, err error) {
	online, err := h.ReadFile(cpuOnlinePath)
	if err != nil {
		return 0, 0, err
	}
	if cpus, err = countCPUs(string(online)); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", cpuOnlinePath, err)
	}
	meminfo, err := h.ReadFile(memInfoPath)
	if err != nil {
		return 0, 0, err
	}
	if memoryBytes, err = memTotal(meminfo); err != nil {
		return 0, 0, fmt.Errorf("%s: %w", memInfoPath, err)
	}
	return cpus, memoryBytes, nil
}

// countCPUs counts the CPUs of a kernel cpu list ("0-3,8,10-11").
func countCPUs(list string) (int, error) {
	list = strings.TrimSpace(list)
	if list == "" {
		return 0, fmt.Errorf("no CPU online")
	}
	n := 0
	for _, part := range strings.Split(list, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(lo)
		if err != nil {
			return 0, fmt.Errorf("cpu list %q: %w", list, err)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(hi); err != nil {
				return 0, fmt.Errorf("cpu list %q: %w", list, err)
			}
		}
		if first < 0 || last < first {
			return 0, fmt.Errorf("cpu list %q: bad range %q", list, part)
		}
		n += last - first + 1
	}
	return n, nil
}

// memTotal reads MemTotal (kB, which the kernel means as KiB) from
// /proc/meminfo, in bytes.
func memTotal(meminfo []byte) (int64, error) {
	s := bufio.NewScanner(bytes.NewReader(meminfo))
	for s.Scan() {
		f := strings.Fields(s.Text())
		if len(f) != 3 || f[0] != "MemTotal:" || f[2] != "kB" {
			continue
		}
		kib, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil || kib <= 0 {
			return 0, fmt.Errorf("MemTotal %q is not a positive number of kB", f[1])
		}
		return kib << 10, nil
	}
	return 0, fmt.Errorf("no MemTotal line in kB")
}

// WriteKubeletPatch writes the node's kubeadm patch to the cluster-wide
// KubeletConfiguration (kubeadm.KubeletPatchPath): the kubeReserved that
// kubeadm.Reserve computes from the node's own CPU count and memory. The
// agent writes it before kubeadm init, join and upgrade apply, each of
// which writes /var/lib/kubelet/config.yaml with it (patches.directory or
// --patches kubeadm.PatchesDir).
func WriteKubeletPatch(h Host) (kubeadm.Reservation, error) {
	cpus, memory, err := HostResources(h)
	if err != nil {
		return kubeadm.Reservation{}, fmt.Errorf("reading the node's CPUs and memory for the kubelet's reservation: %w", err)
	}
	r := kubeadm.Reserve(cpus, memory)
	patch, err := kubeadm.RenderKubeletPatch(r)
	if err != nil {
		return kubeadm.Reservation{}, err
	}
	return r, h.WriteFile(kubeadm.KubeletPatchPath, patch, 0o644)
}

// writeKubeletPatch is WriteKubeletPatch on the agent's host, logged.
func (a *Agent) writeKubeletPatch() error {
	r, err := WriteKubeletPatch(a.Host)
	if err != nil {
		return err
	}
	reserved := r.KubeReserved()
	a.logger().Info("kubelet reservation for the system", "patch", kubeadm.KubeletPatchPath,
		"cpu", reserved["cpu"], "memory", reserved["memory"], "ephemeral_storage", reserved["ephemeral-storage"])
	return nil
}
