package node

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/go-version"

	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/kubeadm"
)

// manifestDir holds the control plane's static pod manifests, which kubeadm
// writes and the kubelet runs.
const manifestDir = "/etc/kubernetes/manifests"

// apiServerManifest is the static Pod kubeadm writes and `kubeadm upgrade
// apply` rewrites: its image tag is the version the control plane runs.
const apiServerManifest = manifestDir + "/kube-apiserver.yaml"

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

// kubeletVersion is the version of the installed kubelet ("1.36.6").
func (a *Agent) kubeletVersion(ctx context.Context) (string, error) {
	out, err := a.run(ctx, "kubelet", "--version")
	if err != nil {
		return "", err
	}
	m := kubeletVersionLine.FindStringSubmatch(out)
	if m == nil {
		return "", fmt.Errorf("kubelet --version printed %q, not Kubernetes vX.Y.Z", strings.TrimSpace(out))
	}
	return m[1], nil
}

var kubeletVersionLine = regexp.MustCompile(`Kubernetes v([0-9]+\.[0-9]+\.[0-9]+)`)

// drainTimeout bounds the control plane's drain before its kubelet is
// upgraded: a PodDisruptionBudget that allows no eviction fails the run,
// which the next timer run retries, rather than holding it forever.
const drainTimeout = 5 * time.Minute

// UpgradeControlPlane brings the control plane to cluster.json's
// kubernetes_version, run by kforge-upgrade.timer, in kubeadm's documented
// order: a fresh backup (PKI and etcd snapshot to the bucket: the way
// back), the new kubeadm, `kubeadm upgrade apply`; then the node drained
// (its static pods are mirror pods, which a drain leaves alone), the new
// kubelet and kubectl, the kubelet restarted, the node uncordoned. Nothing
// when the API server's manifest and the kubelet both run that version; a
// run interrupted after kubeadm upgrade apply resumes at the drain.
// `kforge upgrade` changes cluster.json and waits for the API server to
// report the version. It refuses what kubeadm cannot do (a downgrade, a
// skipped minor) without touching the node.
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
	kubelet, err := a.kubeletVersion(ctx)
	if err != nil {
		return fmt.Errorf("reading the kubelet's version: %w", err)
	}
	node := a.Instance.Hostname
	if running == want && kubelet == want {
		if Exists(a.Host, drainedMarker) {
			a.logger().Info("resuming the control plane's upgrade: the node back in service", "version", want)
			return a.backInService(ctx, node, want)
		}
		a.logger().Info("control plane runs cluster.json's version", "version", want)
		return nil
	}
	if running != want {
		if err := checkControlPlaneStep(running, want); err != nil {
			return err
		}
		if err := checkAgentKnowsMinor(want); err != nil {
			return err
		}
		a.logger().Info("upgrading the control plane", "from", running, "to", want)
		// The snapshot is the way back: taken now, nothing written before the
		// upgrade is lost if it has to be restored. An attempt that fails
		// is retried every two minutes; within a backup interval of the last
		// attempt's snapshot it is not taken again (kforge-backup.timer
		// keeps the latest no older than that anyway), or a failure that
		// lasts a day would add 720 snapshots to the history.
		if err := a.backupBeforeUpgrade(ctx, running, want); err != nil {
			return fmt.Errorf("etcd snapshot before the upgrade (nothing changed): %w", err)
		}
	} else {
		a.logger().Info("resuming the control plane's upgrade: the kubelet", "kubelet", kubelet, "to", want)
	}
	if err := a.Host.WriteFile("/etc/yum.repos.d/kubernetes.repo", []byte(kubernetesRepo(a.Cluster.Minor())), 0o644); err != nil {
		return err
	}
	if running != want {
		lab, err := a.labSettings()
		if err != nil {
			return err
		}
		// kubeadm upgrade apply rewrites the kubelet's config.yaml from
		// the kubelet-config ConfigMap: without the node's patch it would
		// drop the kubelet's reservation. Written again here, so a control
		// plane bootstrapped before the reservation existed gets it too.
		if err := a.writeKubeletPatch(); err != nil {
			return err
		}
		apply := UpgradeApplyArgs(want)
		if lab != nil && lab.CgroupV1 {
			// As kubeadm init and join skip it on a lab node of a cgroup
			// v1 machine (internal/kubeadm): kubeadm's system verification
			// refuses cgroup v1 from 1.35 on unless skipped.
			apply = append(apply, "--ignore-preflight-errors=SystemVerification")
		}
		if err := a.runAll(ctx,
			Cmd("dnf", "install", "-y", "--disableexcludes=kubernetes", "kubeadm-"+want),
			Cmd("kubeadm", apply...),
		); err != nil {
			// An apply that failed after its bootstrap-token phase (in
			// addon or post-upgrade) has made kubeadm's automatic approval
			// of bootstrap client CSRs again: not left until the retry.
			if derr := a.removeBootstrapAutoApproval(ctx); derr != nil {
				a.logger().Warn("deleting kubeadm's automatic approval after a failed upgrade apply", "error", derr.Error())
			}
			return fmt.Errorf("upgrading the control plane from %s to %s: %w", running, want, err)
		}
		a.logger().Info("kubeadm upgrade apply done", "version", want)
	}
	// kubeadm upgrade apply makes its automatic approval of bootstrap
	// client CSRs again. Deleted on every run that has not finished: a run
	// after a failed apply or a failed delete finds the new version
	// already running and applies nothing, and would otherwise leave it
	// until the control plane's next boot.
	if err := a.removeBootstrapAutoApproval(ctx); err != nil {
		return err
	}
	// kubeadm's procedure: drain before the kubelet's minor changes. The
	// control plane's own pods are static (mirror pods, skipped); what the
	// drain evicts (CoreDNS, the add-on controllers) moves to the workers.
	// The marker says the cordon is the upgrade's, for a resumed run to lift.
	if err := a.Host.WriteFile(drainedMarker, []byte(want+"\n"), 0o644); err != nil {
		return err
	}
	if _, err := a.Host.Run(ctx, a.kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data",
		"--timeout="+drainTimeout.String())); err != nil {
		return fmt.Errorf("draining %s before its kubelet is upgraded to %s (it stays cordoned; the next run retries): %w", node, want, err)
	}
	a.logger().Info("control plane node drained", "node", node)
	if err := a.runAll(ctx, Cmd("dnf", "install", "-y", "--disableexcludes=kubernetes", "kubelet-"+want, "kubectl-"+want)); err != nil {
		return fmt.Errorf("upgrading the control plane's kubelet to %s: %w", want, err)
	}
	// The new kubeadm names its release's pause: containerd's sandbox
	// image follows it, as the host setup sets it at boot (a restart of
	// containerd leaves running containers running).
	if err := a.writeContainerdConfig(ctx); err != nil {
		return fmt.Errorf("configuring containerd for %s: %w", want, err)
	}
	if err := a.runAll(ctx,
		Cmd("systemctl", "restart", "containerd"),
		Cmd("systemctl", "daemon-reload"),
		Cmd("systemctl", "restart", "kubelet"),
	); err != nil {
		return fmt.Errorf("upgrading the control plane's kubelet to %s: %w", want, err)
	}
	// The host is now set up for the new version as a boot would set it
	// up: without the marker, the next reboot would run the whole host
	// setup again on a control plane in service.
	if err := a.syncDisk(ctx); err != nil {
		return err
	}
	if err := a.Host.WriteFile(a.prerequisitesMarker(), []byte(want+"\n"), 0o644); err != nil {
		return err
	}
	return a.backInService(ctx, node, want)
}

// UpgradeApplyArgs is the arguments of the control plane's `kubeadm upgrade
// apply` to version want (lab settings apart): --patches names the
// directory of the node's kubelet patch (kubeadm.PatchesDir), which kubeadm
// applies to the kubelet configuration it writes; test/conformance runs
// its kubelet-config phase with the real kubeadm.
func UpgradeApplyArgs(want string) []string {
	return []string{"upgrade", "apply", "v" + want, "--yes", "--patches", kubeadm.PatchesDir}
}

// BackInServiceKubectl is the kubectl arguments (the admin kubeconfig
// apart) with which an upgraded control plane's node waits for its new
// kubelet to settle and is uncordoned; test/conformance runs them with the
// real kubectl against a real API server.
func BackInServiceKubectl(node, want string) [][]string {
	return [][]string{
		{"wait", "--for=jsonpath={.status.nodeInfo.kubeletVersion}=v" + want, "node/" + node, "--timeout=5m"},
		{"wait", "--for=condition=Ready", "node/" + node, "--timeout=5m"},
		{"wait", "--for=condition=Ready", "pod", "-n", "kube-system", "-l", "tier=control-plane",
			"--field-selector=spec.nodeName=" + node, "--timeout=5m"},
		{"get", "--raw=/readyz"},
		{"uncordon", node},
	}
}

// upgradeBackupMarker holds "<from> <to> <unix time>" of the snapshot the
// last upgrade attempt took.
const upgradeBackupMarker = stateDir + "/upgrade-backup"

// backupBeforeUpgrade takes the upgrade's snapshot, unless an attempt of
// the same upgrade took one within the backup interval.
func (a *Agent) backupBeforeUpgrade(ctx context.Context, from, to string) error {
	interval := time.Duration(a.unitSettings().BackupMinutes) * time.Minute
	if b, err := a.Host.ReadFile(upgradeBackupMarker); err == nil {
		if f := strings.Fields(string(b)); len(f) == 3 && f[0] == from && f[1] == to {
			if at, err := strconv.ParseInt(f[2], 10, 64); err == nil && a.now().Sub(time.Unix(at, 0)) < interval {
				a.logger().Info("the snapshot of an earlier attempt of this upgrade is recent; not taken again", "taken", time.Unix(at, 0).UTC().Format(time.RFC3339))
				return nil
			}
		}
	}
	if err := a.Backup(ctx); err != nil {
		return err
	}
	return a.Host.WriteFile(upgradeBackupMarker, []byte(fmt.Sprintf("%s %s %d\n", from, to, a.now().Unix())), 0o644)
}

// drainedMarker exists while the control plane is cordoned by its upgrade.
const drainedMarker = stateDir + "/control-plane-drained"

// backInService uncordons the upgraded control plane once its new kubelet
// has settled: it reports its version, the Node is Ready, the control
// plane's pods are Ready and the API server is. A kubelet of a new minor
// recreates the static pods (their ids hash the Pod type, which changes
// between minors), so the API server restarts here; a call it refuses
// meanwhile fails this run and the next one (2 minutes later) resumes
// here, with the node still cordoned: kforge upgrade waits for the
// uncordon before it rolls a worker.
func (a *Agent) backInService(ctx context.Context, node, want string) error {
	var steps []Command
	for _, args := range BackInServiceKubectl(node, want) {
		steps = append(steps, a.kubectl(args...))
	}
	if err := a.runAll(ctx, steps...); err != nil {
		return fmt.Errorf("returning %s to service after its kubelet's upgrade to %s (it stays cordoned; the next run retries): %w", node, want, err)
	}
	// kubeadm upgrade apply renewed admin.conf's client certificate; the
	// bucket's copy and the drainer still hold the old one, and the
	// renewal timer, reading the new one's expiry, would not replace them
	// before the old one expired.
	if err := a.adminRenewed(ctx); err != nil {
		return fmt.Errorf("after the upgrade to %s (the node is back in service; the next run retries): %w", want, err)
	}
	if err := a.publishControlPlaneVersion(ctx, want); err != nil {
		return fmt.Errorf("publishing the control plane's version %s to the join material (the node is back in service; the next run retries): %w", want, err)
	}
	if _, err := a.Host.Run(ctx, Cmd("rm", "-f", drainedMarker)); err != nil {
		return err
	}
	a.logger().Info("control plane upgraded", "version", want)
	return nil
}

// publishControlPlaneVersion records the upgraded version in the join
// material, which workers of the new minor wait for (WaitForJoin).
func (a *Agent) publishControlPlaneVersion(ctx context.Context, running string) error {
	j, err := ReadJoin(ctx, a.Bucket)
	if errors.Is(err, ErrNotFound) {
		// kforge-refresh-token publishes it, with the version.
		return nil
	}
	if err != nil {
		return err
	}
	if j.ControlPlaneVersion == running {
		return nil
	}
	j.ControlPlaneVersion = running
	if err := PublishJoin(ctx, a.Bucket, j); err != nil {
		return err
	}
	a.logger().Info("join material names the control plane's version", "version", running)
	return nil
}

var errUnsupportedStep = errors.New("kubeadm upgrades one minor at a time and never down")

var errMinorUnknownToAgent = errors.New("this agent knows no add-on versions or settings for that minor")

// checkAgentKnowsMinor refuses an upgrade to a minor this agent was not
// built for. cluster.json comes from the newest kforge that ran up; a
// control plane still on an older agent would otherwise run kubeadm upgrade
// apply and then fail every add-on run after it.
func checkAgentKnowsMinor(want string) error {
	minor, err := config.KubernetesMinor(want)
	if err != nil {
		return fmt.Errorf("cluster.json: kubernetes_version: %w", err)
	}
	var known []string
	for _, r := range config.SupportedKubernetesVersions() {
		if r.Minor == minor {
			return nil
		}
		known = append(known, r.Minor)
	}
	return fmt.Errorf("cluster.json asks for Kubernetes %s, and this agent supports %s: %w; the node is left as it is (replace the control plane with the agent of the kforge release that wrote it: kforge up, then kforge roll --control-plane, then kforge upgrade)",
		want, strings.Join(known, ", "), errMinorUnknownToAgent)
}

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
