package node

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kforge/kforge/internal/kubeadm"
)

const (
	kubeletConf  = "/etc/kubernetes/kubelet.conf"
	joinConfPath = "/etc/kubernetes/kforge-join.yaml"
)

func (a *Agent) workerPhases() []phase {
	phases := []phase{
		a.installUnitsPhase(),
		a.prerequisitesPhase(),
		{name: "kubeadm-join", done: a.fileExists(kubeletConf), run: a.join},
	}
	if a.lab != nil && a.lab.BridgeCNI {
		phases = append(phases, a.labBridgeCNI(kubeletConf))
	}
	return append(phases, a.nodeReadyPhase(kubeletConf))
}

// WorkerLabels are the labels a worker registers with: its pool's labels,
// the pool name, its zone and region and its instance type (the kubelet may
// set these itself under the NodeRestriction admission plugin).
func (a *Agent) WorkerLabels() map[string]string {
	labels := map[string]string{}
	for k, v := range a.Cluster.WorkerPools[a.Options.Pool].Labels {
		labels[k] = v
	}
	labels["kforge.io/pool"] = a.Options.Pool
	labels["topology.kubernetes.io/zone"] = a.Instance.AvailabilityZone
	labels["topology.kubernetes.io/region"] = a.Instance.Region
	labels[corev1.LabelInstanceTypeStable] = a.Instance.InstanceType
	return labels
}

// ControlPlaneLabels are the labels the control plane registers with: its
// instance type. No cloud controller manager runs to set
// node.kubernetes.io/instance-type, and Cluster Autoscaler's template node
// for a pool scaled to zero carries it, so a pod selecting an instance type
// would have a pool scaled up for a node that lacks the label; the agent
// sets it on every node.
func (a *Agent) ControlPlaneLabels() map[string]string {
	return map[string]string{corev1.LabelInstanceTypeStable: a.Instance.InstanceType}
}

func (a *Agent) join(ctx context.Context) error {
	jm, err := WaitForJoin(ctx, a.Bucket, a.Backoff, a.now, a.logger().Info, a.Cluster.KubernetesVersion)
	if err != nil {
		return err
	}
	if err := a.writeKubeletPatch(); err != nil {
		return err
	}
	if jm.CACert == "" {
		a.logger().Warn("the join material has no CA: published by an older control plane agent, which asks for no proof of identity; the kubelet asks for its certificate itself")
	} else if err := a.bootstrapKubeletClient(ctx, jm); err != nil {
		return err
	}
	cfg, err := kubeadm.RenderJoin(kubeadm.Worker{
		NodeName:     a.Instance.Hostname,
		ProviderID:   a.Instance.ProviderID(),
		APIEndpoint:  jm.APIEndpoint,
		Token:        jm.Token,
		CACertHashes: jm.CACertHashes,
		Labels:       a.WorkerLabels(),
		Taints:       a.Cluster.WorkerPools[a.Options.Pool].Taints,
		// The lab on a cgroup v1 machine (lab.go).
		AllowCgroupV1: a.lab != nil && a.lab.CgroupV1,
		PatchesDir:    kubeadm.PatchesDir,
	})
	if err != nil {
		return err
	}
	// The token's id is its public half (the name of its Secret); the
	// secret half stays out of the log.
	id, _, _ := strings.Cut(jm.Token, ".")
	a.logger().Info("joining with the published bootstrap token", "token_id", id, "expires", jm.Expires.Format(time.RFC3339))
	// kubeadm join's kubelet-start phase writes these two before it reads
	// this Node from the API server; a join that fails there (the API
	// server restarting for an upgrade or a certificate renewal) leaves
	// them, and join's preflight refuses them at every later attempt
	// (FileAvailable) until the instance powers itself off. The phase runs
	// only while kubelet.conf is absent, so neither is a finished join's.
	if err := a.runAll(ctx, Cmd("rm", "-f", joinLeftovers[0], joinLeftovers[1])); err != nil {
		return err
	}
	// The file holds the token: root-only, and removed after the join
	// whether it succeeded or not (a join that wrote kubelet.conf before
	// failing is not run again, and the file would stay).
	if err := a.Host.WriteFile(joinConfPath, cfg, 0o600); err != nil {
		return err
	}
	_, err = a.run(ctx, "kubeadm", "join", "--config", joinConfPath)
	if rmErr := a.removeTokenFiles(ctx, joinConfPath); err == nil {
		err = rmErr
	}
	return err
}

// tokenFiles hold the bootstrap token while a join runs: the join
// configuration, the kubeconfig the agent asks for the kubelet's client
// certificate with (joinidentity.go), and kubeadm's bootstrap kubeconfig,
// which kubeadm removes only when its kubelet-start phase returns (a join
// killed after the kubelet wrote kubelet.conf leaves it, and no later
// attempt joins again).
var tokenFiles = []string{joinConfPath, joinKubeconfig, joinLeftovers[0]}

// removeTokenFiles removes paths even when ctx has ended: a stop (SIGTERM
// at a reboot, systemctl stop) cancels the attempt, and the token must
// not outlive it.
func (a *Agent) removeTokenFiles(ctx context.Context, paths ...string) error {
	return a.runAll(context.WithoutCancel(ctx), Cmd("rm", append([]string{"-f"}, paths...)...))
}

// removeLeftTokenFiles removes the token files an attempt killed outright
// (SIGKILL, power lost) left behind; when its join had written
// kubelet.conf, no later attempt runs the join that would remove them.
func (a *Agent) removeLeftTokenFiles(ctx context.Context) error {
	var left []string
	for _, f := range tokenFiles {
		if Exists(a.Host, f) {
			left = append(left, f)
		}
	}
	if len(left) == 0 {
		return nil
	}
	a.logger().Info("removing bootstrap token files an interrupted attempt left", "files", strings.Join(left, ", "))
	return a.removeTokenFiles(ctx, left...)
}

// joinLeftovers are what a kubeadm join that stopped in its kubelet-start
// phase leaves: the bootstrap kubeconfig and the cluster CA.
var joinLeftovers = [2]string{"/etc/kubernetes/bootstrap-kubelet.conf", caCert}
