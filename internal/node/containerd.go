package node

import (
	"fmt"
	"strings"

	"github.com/kforge/kforge/internal/kubeadm"
)

// ContainerdConfig is the configuration the agent gives containerd, made
// from its default (`containerd config default`): runc on the systemd
// cgroup driver, and pod sandboxes on the pause among kubeadm's images
// (`kubeadm config images list` for the cluster's release).
func ContainerdConfig(defaults string, kubeadmImages []string) (string, error) {
	conf, err := systemdCgroup(defaults)
	if err != nil {
		return "", err
	}
	pause, err := kubeadm.Image(kubeadmImages, "pause")
	if err != nil {
		return "", err
	}
	return sandboxImage(conf, pause)
}

// systemdCgroup switches runc to the systemd cgroup driver, matching the
// kubelet's cgroupDriver: systemd.
func systemdCgroup(defaults string) (string, error) {
	const off, on = "SystemdCgroup = false", "SystemdCgroup = true"
	if !strings.Contains(defaults, off) && !strings.Contains(defaults, on) {
		return "", fmt.Errorf("containerd default config has no SystemdCgroup setting; cannot select the systemd cgroup driver")
	}
	return strings.ReplaceAll(defaults, off, on), nil
}

// sandboxSettings are where `containerd config default` names the pod
// sandbox (pause) image: containerd 2.x in the CRI images plugin's pinned
// images, containerd 1.x in the CRI plugin's own table.
var sandboxSettings = []struct{ table, key string }{
	{"[plugins.'io.containerd.cri.v1.images'.pinned_images]", "sandbox"},
	{`[plugins."io.containerd.grpc.v1.cri"]`, "sandbox_image"},
}

// sandboxImage sets containerd's pod sandbox image to image, the pause
// kubeadm names for the cluster's release. containerd's own default need
// not be that one: kubeadm's preflight then warns, and the node pulls a
// second pause image that kubeadm never pre-pulled.
func sandboxImage(conf, image string) (string, error) {
	if image == "" || strings.ContainsAny(image, "'\"\\ \t\r\n") {
		return "", fmt.Errorf("sandbox image %q is not an image reference", image)
	}
	lines := strings.SplitAfter(conf, "\n")
	table, found := "", false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			table = t
			continue
		}
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		for _, s := range sandboxSettings {
			if table != s.table || k != s.key {
				continue
			}
			// Keep the line's indentation, end and quoting ('…' in 2.x, "…" in 1.x).
			if v == "" || (v[0] != '\'' && v[0] != '"') {
				return "", fmt.Errorf("containerd default config: %s in %s is not a string: %s", s.key, s.table, v)
			}
			indent := l[:len(l)-len(strings.TrimLeft(l, " \t"))]
			end := l[len(strings.TrimRight(l, "\r\n")):]
			lines[i] = indent + s.key + " = " + v[:1] + image + v[:1] + end
			found = true
		}
	}
	if !found {
		return "", fmt.Errorf("containerd default config has no sandbox image setting (sandbox in %s, or sandbox_image in %s); cannot set kubeadm's pause image %s",
			sandboxSettings[0].table, sandboxSettings[1].table, image)
	}
	return strings.Join(lines, ""), nil
}
