package conformance

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/addons"
	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/internal/node"
)

// kubeletPatch writes the node's kubelet patch where the agent does
// (kubeadm.KubeletPatchPath, inside the sandbox's /etc overlay), from this
// machine's CPUs and memory as the agent reads them, and returns its
// kubeReserved.
func kubeletPatch(t *testing.T) map[string]string {
	t.Helper()
	r, err := node.WriteKubeletPatch(node.ExecHost{})
	if err != nil {
		t.Fatalf("writing the node's kubelet patch as the agent does: %v", err)
	}
	return r.KubeReserved()
}

// kubeletConfig is what these checks read of a KubeletConfiguration.
type kubeletConfig struct {
	Kind               string            `json:"kind"`
	KubeReserved       map[string]string `json:"kubeReserved"`
	ServerTLSBootstrap bool              `json:"serverTLSBootstrap"`
	CgroupDriver       string            `json:"cgroupDriver"`
	// The graceful node shutdown: kubeadm must carry it into every node's
	// config.yaml, on every path.
	ShutdownGracePeriod             string `json:"shutdownGracePeriod"`
	ShutdownGracePeriodCriticalPods string `json:"shutdownGracePeriodCriticalPods"`
}

// assertReserved checks that the kubelet configuration kubeadm wrote at
// path is the cluster's (kforge's own settings in it) with the node's
// reservation merged in.
func assertReserved(t *testing.T, what, path string, want map[string]string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%s wrote no kubelet configuration: %v", what, err)
	}
	var c kubeletConfig
	if err := yaml.Unmarshal(raw, &c); err != nil {
		t.Fatalf("%s: %s: %v", what, path, err)
	}
	if !maps.Equal(c.KubeReserved, want) {
		t.Errorf("%s wrote kubeReserved %v, want the node's patch %v:\n%s", what, c.KubeReserved, want, raw)
	}
	if c.Kind != "KubeletConfiguration" || !c.ServerTLSBootstrap || c.CgroupDriver != "systemd" ||
		c.ShutdownGracePeriod != kubeadm.ShutdownGracePeriod.String() || c.ShutdownGracePeriodCriticalPods != kubeadm.ShutdownGracePeriodCriticalPods.String() {
		t.Errorf("%s did not write kforge's KubeletConfiguration (serverTLSBootstrap, cgroupDriver systemd, graceful shutdown %s with %s for critical pods) with the patch:\n%s",
			what, kubeadm.ShutdownGracePeriod, kubeadm.ShutdownGracePeriodCriticalPods, raw)
	}
	t.Logf("%s: kubeReserved %v", what, c.KubeReserved)
}

// kubeadmFlags reads the kubelet flags of a kubeadm-flags.env.
func kubeadmFlags(t *testing.T, path string) []string {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("kubeadm wrote no kubeadm-flags.env: %v", err)
	}
	m := regexp.MustCompile(`KUBELET_KUBEADM_ARGS="([^"]*)"`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("%s has no KUBELET_KUBEADM_ARGS:\n%s", path, raw)
	}
	return strings.Fields(m[1])
}

// kubeletAccepts runs the kubelet's own checks over a configuration file
// (and flags) kubeadm wrote.
func kubeletAccepts(t *testing.T, e *env, what, config string, flags ...string) {
	t.Helper()
	args := append([]string{"--config=" + config}, flags...)
	if !cgroupV2() {
		args = append(args, "--fail-cgroupv1=false")
	}
	if _, err := e.run(nil, "kubeletcheck", args...); err != nil {
		t.Fatalf("kubelet %s rejects the configuration %s wrote with the node's patch:\n%v", e.bin.Version, what, err)
	}
}

// reservationToken is the bootstrap token the join below discovers the
// cluster with.
const reservationToken = "kfrsv0.0123456789abcdef"

// joiningWorkerName is the worker that joins in check 13.
const joiningWorkerName = "ip-10-0-2-21.eu-west-1.compute.internal"

// 13. The node's kubelet reservation on the other two ways kubeadm writes
// the kubelet's configuration: a worker's `kubeadm join` (its kubelet-start
// phase, dry run) with kforge's JoinConfiguration, which names the patches
// directory, discovering the live cluster with a real bootstrap token and
// CA hash and reading its kubelet-config ConfigMap; and the control
// plane's `kubeadm upgrade apply` (its kubelet-config phase, dry run) with
// the --patches the agent passes (node.UpgradeApplyArgs). Each writes the
// cluster's KubeletConfiguration with the node's kubeReserved, which the
// kubelet's own checks accept; the ConfigMap itself carries none.
func checkReservationJoinAndUpgrade(t *testing.T, e *env, a artifacts) {
	want := kubeletPatch(t)
	cm, err := e.kubectl("get", "configmap", "-n", "kube-system", "kubelet-config", "-o", "jsonpath={.data.kubelet}")
	if err != nil {
		t.Fatalf("reading the kubelet-config ConfigMap:\n%v", err)
	}
	if strings.Contains(cm, "kubeReserved") || !strings.Contains(cm, "serverTLSBootstrap: true") {
		t.Errorf("the cluster-wide kubelet-config is not kforge's KubeletConfiguration without a node's reservation:\n%s", cm)
	}

	// cluster-info, which token discovery reads, and a token that the
	// controller manager's bootstrapsigner signs it for.
	if _, err := e.run(nil, "kubeadm", "init", "phase", "bootstrap-token", "--config", e.write("init.yaml", a.init), "--kubeconfig", adminConf, "--skip-token-print"); err != nil {
		t.Fatalf("kubeadm init phase bootstrap-token:\n%v", err)
	}
	// The token the way the control plane's agent makes one, in kforge's
	// group, with the roles a join needs bound to it first.
	rbac, err := addons.RenderWorkerJoinRBAC()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.kubectl("apply", "--server-side", "--force-conflicts", "-f", e.write("worker-join-rbac.yaml", rbac)); err != nil {
		t.Fatalf("applying the workers' join roles:\n%v", err)
	}
	if _, err := e.run(nil, "kubeadm", append(node.WorkerTokenArgs(30*time.Minute), reservationToken)...); err != nil {
		t.Fatalf("kubeadm token create:\n%v", err)
	}
	id, _, _ := strings.Cut(reservationToken, ".")
	if err := waitFor(2*time.Minute, func() error {
		out, err := e.kubectl("get", "configmap", "-n", "kube-public", "cluster-info", "-o", "json")
		if err != nil {
			return err
		}
		var cm struct {
			Data map[string]string `json:"data"`
		}
		if err := json.Unmarshal([]byte(out), &cm); err != nil {
			return err
		}
		if _, ok := cm.Data["jws-kubeconfig-"+id]; !ok {
			return fmt.Errorf("cluster-info is not signed for token %s yet: keys %v", id, slices.Sorted(maps.Keys(cm.Data)))
		}
		return nil
	}); err != nil {
		t.Fatalf("the controller manager's bootstrapsigner: %v", err)
	}
	_, hash := clusterCA(t)
	// A worker the cluster does not know yet: kubeadm join refuses a name
	// that a Ready Node (check 9's worker) already has.
	w := worker(reservationToken, hash)
	w.NodeName = joiningWorkerName
	join, err := kubeadm.RenderJoin(w)
	if err != nil {
		t.Fatal(err)
	}
	joinDir := filepath.Join(e.dir, "join-dryrun")
	if err := os.MkdirAll(joinDir, 0o755); err != nil {
		t.Fatal(err)
	}
	out, err := e.run([]string{"KUBEADM_JOIN_DRYRUN_DIR=" + joinDir}, "kubeadm", "join", "phase", "kubelet-start", "--dry-run",
		"--config", e.write("join-reservation.yaml", join))
	if err != nil {
		t.Fatalf("kubeadm join phase kubelet-start --dry-run with kforge's join configuration:\n%v", err)
	}
	if !strings.Contains(out, "Would start the kubelet") {
		t.Fatalf("kubeadm join phase kubelet-start --dry-run did not get to the kubelet's start:\n%s", out)
	}
	joinConfig := filepath.Join(joinDir, "config.yaml")
	assertReserved(t, "kubeadm join phase kubelet-start", joinConfig, want)
	kubeletAccepts(t, e, "kubeadm join", joinConfig, kubeadmFlags(t, filepath.Join(joinDir, "kubeadm-flags.env"))...)

	// The agent's upgrade arguments: the same patches directory.
	upgradeArgs := node.UpgradeApplyArgs(a.version)
	i := slices.Index(upgradeArgs, "--patches")
	if i < 0 || i+1 >= len(upgradeArgs) || upgradeArgs[i+1] != kubeadm.PatchesDir {
		t.Fatalf("the agent's kubeadm upgrade apply %v does not pass --patches %s", upgradeArgs, kubeadm.PatchesDir)
	}
	upgradeDir := filepath.Join(e.dir, "upgrade-dryrun")
	if err := os.MkdirAll(upgradeDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := e.run([]string{"KUBEADM_UPGRADE_DRYRUN_DIR=" + upgradeDir}, "kubeadm", "upgrade", "apply", "phase", "kubelet-config",
		"v"+e.bin.Version, "--dry-run", "--kubeconfig", adminConf, "--patches", upgradeArgs[i+1]); err != nil {
		t.Fatalf("kubeadm upgrade apply phase kubelet-config --dry-run --patches %s:\n%v", upgradeArgs[i+1], err)
	}
	upgradeConfig := filepath.Join(upgradeDir, "config.yaml")
	assertReserved(t, "kubeadm upgrade apply phase kubelet-config", upgradeConfig, want)
	kubeletAccepts(t, e, "kubeadm upgrade apply", upgradeConfig)
}
