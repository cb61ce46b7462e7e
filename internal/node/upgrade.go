package node

import (
	"context"
	"errors"
	"fmt"
	"regexp"

	"github.com/hashicorp/go-version"
)

// apiServerManifest is the static Pod kubeadm writes and `kubeadm upgrade
// apply` rewrites: its image tag is the version the control plane runs.
const apiServerManifest = "/etc/kubernetes/manifests/kube-apiserver.yaml"

var apiServerImageTag = regexp.MustCompile(`image:\s*\S*/kube-apiserver:v([0-9]+\.[0-9]+\.[0-9]+)\s`)

// runningControlPlaneVersion reads the version the API server's manifest
// names.
func (a *Agent) runningControlPlaneVersion() (string, error) {
	data, err := a.Host.ReadFile(apiServerManifest)
	if err != nil {
		return "", err
	}
	m := apiServerImageTag.FindSubmatch(data)
	if m == nil {
		return "", fmt.Errorf("%s names no kube-apiserver image with a version tag", apiServerManifest)
	}
	return string(m[1]), nil
}

// UpgradeControlPlane brings the control plane to cluster.json's
// kubernetes_version, run by kforge-upgrade.timer: nothing when it runs
// that version already; otherwise a fresh backup (PKI and etcd snapshot to
// the bucket: the way back), the new kubeadm, `kubeadm upgrade apply`, then
// the new kubelet and kubectl. `kforge upgrade` changes cluster.json and
// waits for the API server to report the version. It refuses what kubeadm
// cannot do (a downgrade, a skipped minor) without touching the node.
func (a *Agent) UpgradeControlPlane(ctx context.Context) error {
	if !Exists(a.Host, adminConf) {
		a.logger().Info("control plane not initialised yet: the bootstrap installs cluster.json's version")
		return nil
	}
	running, err := a.runningControlPlaneVersion()
	if err != nil {
		return fmt.Errorf("reading the running control plane version: %w", err)
	}
	want := a.Cluster.KubernetesVersion
	if running == want {
		a.logger().Info("control plane runs cluster.json's version", "version", want)
		return nil
	}
	if err := checkControlPlaneStep(running, want); err != nil {
		return err
	}
	a.logger().Info("upgrading the control plane", "from", running, "to", want)
	// The snapshot is the way back: taken now, nothing written before the
	// upgrade is lost if it has to be restored.
	if err := a.Backup(ctx); err != nil {
		return fmt.Errorf("etcd snapshot before the upgrade (nothing changed): %w", err)
	}
	if err := a.Host.WriteFile("/etc/yum.repos.d/kubernetes.repo", []byte(kubernetesRepo(a.Cluster.Minor())), 0o644); err != nil {
		return err
	}
	if err := a.runAll(ctx,
		Cmd("dnf", "install", "-y", "--disableexcludes=kubernetes", "kubeadm-"+want),
		Cmd("kubeadm", "upgrade", "apply", "v"+want, "--yes"),
		Cmd("dnf", "install", "-y", "--disableexcludes=kubernetes", "kubelet-"+want, "kubectl-"+want),
		Cmd("systemctl", "daemon-reload"),
		Cmd("systemctl", "restart", "kubelet"),
	); err != nil {
		return fmt.Errorf("upgrading the control plane from %s to %s: %w", running, want, err)
	}
	a.logger().Info("control plane upgraded", "version", want)
	return nil
}

var errUnsupportedStep = errors.New("kubeadm upgrades one minor at a time and never down")

// checkControlPlaneStep allows a patch or the next minor only.
func checkControlPlaneStep(running, want string) error {
	r, err := version.NewSemver(running)
	if err != nil {
		return err
	}
	w, err := version.NewSemver(want)
	if err != nil {
		return err
	}
	rs, ws := r.Segments(), w.Segments()
	if w.LessThan(r) || ws[0] != rs[0] || ws[1] > rs[1]+1 {
		return fmt.Errorf("cluster.json asks for Kubernetes %s, the control plane runs %s: %w; the node is left as it is (set kubernetes.version back, or upgrade one minor at a time with kforge upgrade)", want, running, errUnsupportedStep)
	}
	return nil
}
