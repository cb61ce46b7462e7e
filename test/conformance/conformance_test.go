package conformance

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"

	"github.com/kforge/kforge/internal/addons"
	"github.com/kforge/kforge/internal/cluster"
	"github.com/kforge/kforge/internal/cni"
	"github.com/kforge/kforge/internal/config"
	"github.com/kforge/kforge/internal/kubeadm"
	"github.com/kforge/kforge/internal/node"
	"github.com/kforge/kforge/internal/upstream"
	"golang.org/x/sys/unix"
)

// TestConformance runs every check for every supported minor, in order: each
// check builds on the control plane the earlier ones started.
func TestConformance(t *testing.T) {
	if testing.Short() {
		t.Skip("the conformance suite runs through make conformance")
	}
	for _, r := range config.SupportedKubernetesVersions() {
		t.Run(r.Minor, func(t *testing.T) {
			bin := bins[r.Minor]
			if bin == nil {
				t.Fatalf("no binaries were built for %s", r.Minor)
			}
			t.Logf("Kubernetes %s binaries (kforge pins %s), etcd %s", bin.Version, r.LatestPatch, bin.EtcdVersion)
			e := newEnv(t, bin)
			a := render(t, r.LatestPatch)
			steps := []struct {
				name string
				run  func(*testing.T, *env, artifacts)
			}{
				{"1-kubeadm-config-validate", checkValidate},
				{"2-kubeadm-init-dry-run-and-phases", checkInitPhases},
				{"3-etcd-and-apiserver-start", checkControlPlaneStarts},
				{"15-etcd-database-size", checkEtcdDBSize},
				{"7-kubelet-validation", checkKubelet},
				{"8-ca-cert-hash", checkCACertHash},
				{"5-cert-manager-crds-and-issuers", checkIssuers},
				{"6-cilium-chart", checkCilium},
				{"4-addons-server-side", checkAddons},
				{"9-placement", checkPlacement},
				{"19-coredns-budget", checkCoreDNSBudget},
				{"20-traefik-preempts", checkTraefikPreempts},
				{"21-reserved-api-host", checkReservedAPIHost},
				{"23-load-balancer-service-warning", checkLoadBalancerServiceWarning},
				{"24-workloads-page-manifests", checkWorkloadsPageManifests},
				{"16-etcd-quota", checkEtcdQuota},
				{"18-no-kube-proxy-after-upgrade", checkNoKubeProxy},
				{"10-upgrade-back-in-service", checkBackInService},
				{"11-containerd-sandbox-image", checkSandboxImage},
				{"12-certificate-renewal", checkCertRenewal},
				{"13-kubelet-reservation-join-and-upgrade", checkReservationJoinAndUpgrade},
				{"17-kubelet-client-bootstrap", checkKubeletClientBootstrap},
				{"14-pod-security-default", checkPodSecurityDefault},
				{"22-init-token-expires", checkInitTokenExpires},
			}
			for _, s := range steps {
				if !t.Run(s.name, func(t *testing.T) { s.run(t, e, a) }) {
					t.Fatalf("%s failed; the later checks need what it sets up", s.name)
				}
			}
		})
	}
}

// 1. kubeadm config validate accepts each rendered configuration.
func checkValidate(t *testing.T, e *env, a artifacts) {
	// The node's kubelet patch, in the directory the init and join
	// configurations name (patches.directory), as the agent writes it
	// before kubeadm init or join.
	kubeletPatch(t)
	for name, data := range map[string][]byte{
		"init.yaml": a.init, "init-restored.yaml": a.initRestored, "init-resumed.yaml": a.initResumed, "join.yaml": a.join, "kubelet.yaml": a.kubelet,
	} {
		path := e.write(name, data)
		if _, err := e.run(nil, "kubeadm", "config", "validate", "--config", path); err != nil {
			t.Errorf("kubeadm %s rejects kforge's %s:\n%v", e.bin.Version, name, err)
		}
	}
}

// 2. kubeadm init --dry-run, then the phases certs, kubeconfig,
// control-plane and etcd for real (inside the sandbox's /etc overlay).
func checkInitPhases(t *testing.T, e *env, a artifacts) {
	cfg := e.write("init.yaml", a.init)
	dry := filepath.Join(e.dir, "dryrun")
	if err := os.MkdirAll(dry, 0o755); err != nil {
		t.Fatal(err)
	}
	// The files the agent writes before kubeadm init, which the API
	// server's flags name (audit policy, Secrets encryption).
	if err := node.PrepareAPIServerFiles(node.ExecHost{}); err != nil {
		t.Fatalf("writing the API server's audit policy and encryption configuration: %v", err)
	}
	dryEnv := []string{"KUBEADM_INIT_DRYRUN_DIR=" + dry}
	// Preflight judges the host (containerd, swap), not the config; and
	// kubeadm refuses --ignore-preflight-errors=all next to the restored
	// config's own ignorePreflightErrors.
	if _, err := e.run(dryEnv, "kubeadm", "init", "--config", cfg, "--dry-run", "--skip-phases=preflight"); err != nil {
		t.Fatalf("kubeadm init --dry-run with kforge's init.yaml:\n%v", err)
	}
	restored := e.write("init-restored.yaml", a.initRestored)
	if _, err := e.run(dryEnv, "kubeadm", "init", "--config", restored, "--dry-run", "--skip-phases=preflight"); err != nil {
		t.Fatalf("kubeadm init --dry-run with kforge's init-restored.yaml:\n%v", err)
	}
	for _, phase := range [][]string{{"certs", "all"}, {"kubeconfig", "all"}, {"control-plane", "all"}, {"etcd", "local"}, {"kubelet-start"}} {
		args := append([]string{"init", "phase"}, phase...)
		args = append(args, "--config", cfg)
		if phase[0] == "kubelet-start" {
			// Writes the kubelet's files; there is no kubelet to restart here.
			args = append(args, "--dry-run")
		}
		if _, err := e.run(dryEnv, "kubeadm", args...); err != nil {
			t.Fatalf("kubeadm init phase %s with kforge's init.yaml:\n%v", strings.Join(phase, " "), err)
		}
	}
	for _, f := range []string{"kube-apiserver.yaml", "kube-controller-manager.yaml", "kube-scheduler.yaml", "etcd.yaml"} {
		if _, err := os.Stat(filepath.Join(manifestDir, f)); err != nil {
			t.Errorf("kubeadm wrote no %s: %v", f, err)
		}
	}
	// An init run again over these phases' files (the agent's resumption
	// of one that stopped) gets past kubeadm's preflight checks.
	resumed := e.write("init-resumed.yaml", a.initResumed)
	if _, err := e.run(nil, "kubeadm", "init", "phase", "preflight", "--config", resumed); err != nil {
		t.Errorf("kubeadm's preflight refuses the resumed init over the first attempt's files:\n%v", err)
	}
}

// 3. etcd and kube-apiserver start with exactly kubeadm's flags.
func checkControlPlaneStarts(t *testing.T, e *env, a artifacts) {
	e.start("etcd")
	e.start("kube-apiserver")
	err := waitFor(3*time.Minute, func() error {
		_, err := e.kubectl("get", "--raw", "/readyz")
		return err
	})
	if err != nil {
		t.Fatalf("kube-apiserver with kubeadm's flags never became ready:\n%v\napiserver log:\n%s\netcd log:\n%s",
			err, tail(filepath.Join(e.logs, "kube-apiserver.log")), tail(filepath.Join(e.logs, "etcd.log")))
	}
	// kubeadm init's next phase against the live API server: it uploads
	// kforge's configuration and, through kubeadm's first client, binds
	// admin.conf's group (kubeadm:cluster-admins) to cluster-admin.
	if _, err := e.run(nil, "kubeadm", "init", "phase", "upload-config", "all", "--config", e.write("init.yaml", a.init)); err != nil {
		t.Fatalf("kubeadm init phase upload-config with kforge's init.yaml:\n%v", err)
	}
	out, err := e.kubectl("version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, `"gitVersion": "v`+e.bin.Version+`"`) {
		t.Errorf("the API server does not report v%s:\n%s", e.bin.Version, out)
	}
}

// 18. Cilium replaces kube-proxy, and kubeadm keeps it out of the
// cluster: at init, and at every `kubeadm upgrade apply` (its kube-proxy
// phase reads the configuration kforge's init uploaded), which deploys
// kube-proxy beside Cilium unless that configuration disables it.
func checkNoKubeProxy(t *testing.T, e *env, a artifacts) {
	dry := filepath.Join(e.dir, "upgrade-addon-dryrun")
	if err := os.MkdirAll(dry, 0o755); err != nil {
		t.Fatal(err)
	}
	// kubeadm reads the API endpoint from the API server's mirror pod,
	// removed afterwards for the checks that make their own.
	mirrorStaticPod(t, e, "kube-apiserver", "")
	defer deleteMirrorPod(t, e, "kube-apiserver")
	out, err := e.run([]string{"KUBEADM_UPGRADE_DRYRUN_DIR=" + dry}, "kubeadm", "upgrade", "apply", "phase", "addon", "kube-proxy", "v"+e.bin.Version, "--dry-run", "--kubeconfig", adminConf)
	if err != nil {
		t.Fatalf("kubeadm upgrade apply phase addon kube-proxy --dry-run:\n%v", err)
	}
	// A dry run prints the manifests it would apply: kube-proxy's
	// DaemonSet names its image.
	if strings.Contains(out, "image: registry.k8s.io/kube-proxy:") || !strings.Contains(out, "The addon is disabled") {
		t.Errorf("kubeadm upgrade apply would deploy kube-proxy beside Cilium:\n%s", out)
	}
}

// 15. The API server started with kubeadm's flags reports the size of
// its etcd database on /metrics where kforge validate reads it, with the
// admin kubeconfig's rights, within its first polls of etcd.
func checkEtcdDBSize(t *testing.T, e *env, _ artifacts) {
	var size int64
	err := waitFor(2*time.Minute, func() error {
		out, err := e.kubectl("get", "--raw", "/metrics")
		if err != nil {
			return err
		}
		var found bool
		if size, found, err = cluster.EtcdDBSizeFromMetrics(strings.NewReader(out)); err != nil {
			return err
		}
		if !found {
			return errors.New("no etcd database size in the API server's metrics yet")
		}
		return nil
	})
	if err != nil {
		t.Fatalf("kforge validate cannot read the etcd database's size from kube-apiserver %s: %v", e.bin.Version, err)
	}
	if size <= 0 || size >= 2<<30 {
		t.Errorf("etcd database size %d bytes, want a fresh database's, above 0 and far under the 2 GiB quota", size)
	}
	t.Logf("the API server reports an etcd database of %d bytes", size)
}

// 16. The quota kforge renders reaches etcd: kubeadm writes it into etcd's
// static pod, the etcd started with that pod's command (check 3) reports
// it as its own quota on kubeadm's metrics address, and kforge validate
// reads it off the pod as the API server serves the kubelet's mirror of it
// (after check 9, whose controller manager makes kube-system's service
// account, which a pod needs).
func checkEtcdQuota(t *testing.T, e *env, _ artifacts) {
	want := kubeadm.EtcdQuotaBytes(etcdQuotaGiB)
	path := filepath.Join(manifestDir, "etcd.yaml")
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var pod corev1.Pod
	if err := yaml.UnmarshalStrict(raw, &pod); err != nil {
		t.Fatalf("%s is not a Pod: %v", path, err)
	}
	var metricsURL string
	for _, arg := range pod.Spec.Containers[0].Command {
		if v, ok := strings.CutPrefix(arg, "--listen-metrics-urls="); ok {
			metricsURL, _, _ = strings.Cut(v, ",")
		}
	}
	if metricsURL == "" {
		t.Fatalf("kubeadm's %s gives etcd no --listen-metrics-urls", path)
	}
	resp, err := http.Get(metricsURL + "/metrics")
	if err != nil {
		t.Fatalf("etcd's metrics at %s: %v", metricsURL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var etcdQuota float64
	for _, line := range strings.Split(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "etcd_server_quota_backend_bytes "); ok {
			if etcdQuota, err = strconv.ParseFloat(v, 64); err != nil {
				t.Fatalf("etcd's %q: %v", line, err)
			}
		}
	}
	if int64(etcdQuota) != want {
		t.Errorf("etcd %s runs with a quota of %.0f bytes, want kforge's %d GiB (%d)", e.bin.EtcdVersion, etcdQuota, etcdQuotaGiB, want)
	}

	mirrorStaticPod(t, e, "etcd", "")
	out, err := e.kubectl("get", "pods", "-n", "kube-system", "-l", cluster.EtcdPodSelector, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var pods corev1.PodList
	if err := json.Unmarshal([]byte(out), &pods); err != nil {
		t.Fatal(err)
	}
	got, found, err := cluster.EtcdQuotaOfPods(pods.Items)
	if err != nil || !found || got != want {
		t.Errorf("kforge validate reads a quota of %d bytes (found %v, %v) off the %d etcd pods, want %d", got, found, err, len(pods.Items), want)
	}
	t.Logf("etcd runs with kforge's quota of %d GiB, and validate reads it off the etcd pod", etcdQuotaGiB)
}

// 7. The kubelet's own flag parsing and validation accept the
// KubeletConfiguration and the flags the node's kubelet is started with.
func checkKubelet(t *testing.T, e *env, a artifacts) {
	raw, err := os.ReadFile(filepath.Join(e.dir, "dryrun", "kubeadm-flags.env"))
	if err != nil {
		t.Fatalf("kubeadm wrote no kubeadm-flags.env in the dry-run directory: %v", err)
	}
	m := regexp.MustCompile(`KUBELET_KUBEADM_ARGS="([^"]*)"`).FindStringSubmatch(string(raw))
	if m == nil {
		t.Fatalf("kubeadm-flags.env has no KUBELET_KUBEADM_ARGS:\n%s", raw)
	}
	config := filepath.Join(e.dir, "dryrun", "config.yaml")
	// The kubelet unit of the Kubernetes packages adds these flags
	// (10-kubeadm.conf); kubeadm's flags come from kubeadm-flags.env.
	args := []string{
		"--bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf",
		"--kubeconfig=/etc/kubernetes/kubelet.conf",
		"--config=" + config,
	}
	args = append(args, strings.Fields(m[1])...)
	// kubelet validation also judges the host: it refuses a cgroup v1 host
	// while failCgroupV1 is true. Nodes (Amazon Linux 2023) are cgroup v2;
	// on a cgroup v1 test machine the flag says so, and every field of
	// kforge's configuration is still validated.
	var hostFlags []string
	if !cgroupV2() {
		hostFlags = []string{"--fail-cgroupv1=false"}
		t.Logf("this machine is cgroup v1: validating with --fail-cgroupv1=false (AL2023 nodes are cgroup v2)")
	}
	args = append(args, hostFlags...)
	// kubeadm merged the node's patch (patches.directory of the
	// InitConfiguration) into the cluster's KubeletConfiguration.
	assertReserved(t, "kubeadm init phase kubelet-start", config, kubeletPatch(t))
	if _, err := e.run(nil, "kubeletcheck", args...); err != nil {
		t.Fatalf("kubelet %s rejects the configuration kubeadm wrote from kforge's KubeletConfiguration and the node's patch, or its flags %v:\n%v", e.bin.Version, args, err)
	}
	// kforge's KubeletConfiguration document on its own, as rendered.
	if _, err := e.run(nil, "kubeletcheck", append([]string{"--config=" + e.write("kubelet.yaml", a.kubelet)}, hostFlags...)...); err != nil {
		t.Fatalf("kubelet %s rejects kforge's kubelet.yaml:\n%v", e.bin.Version, err)
	}
}

// 8. The CA hash kforge publishes equals the one kubeadm prints.
func checkCACertHash(t *testing.T, e *env, a artifacts) {
	_, ours := clusterCA(t)
	out, err := e.run(nil, "kubeadm", "token", "create", "--print-join-command", "--kubeconfig", adminConf)
	if err != nil {
		t.Fatalf("kubeadm token create --print-join-command:\n%v", err)
	}
	m := regexp.MustCompile(`--discovery-token-ca-cert-hash (sha256:[0-9a-f]{64})`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no CA hash in kubeadm's join command:\n%s", out)
	}
	if m[1] != ours {
		t.Fatalf("kforge's CA cert hash %s differs from kubeadm's %s", ours, m[1])
	}
}

// 5. cert-manager's pinned CRDs are installed for real; the ClusterIssuers
// then pass a server-side dry run.
func checkIssuers(t *testing.T, e *env, a artifacts) {
	dir := filepath.Join(upstreamDir(t), "cert-manager", "crds")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range entries {
		rel := "cert-manager/crds/" + ent.Name()
		data, err := os.ReadFile(filepath.Join(dir, ent.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := upstream.Verify(rel, data); err != nil {
			t.Fatal(err)
		}
		if _, err := e.kubectl("apply", "--server-side", "-f", filepath.Join(dir, ent.Name())); err != nil {
			t.Fatalf("installing cert-manager %s CRD %s:\n%v", upstream.CertManagerVersion, ent.Name(), err)
		}
	}
	if _, err := e.kubectl("wait", "--for=condition=Established", "--timeout=120s", "crd/clusterissuers.cert-manager.io"); err != nil {
		t.Fatal(err)
	}
	path := e.write("issuers.yaml", a.issuers)
	if _, err := e.kubectl("apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", path); err != nil {
		t.Fatalf("the API server rejects kforge's ClusterIssuers against cert-manager %s's CRDs:\n%v", upstream.CertManagerVersion, err)
	}
}

// 6. Cilium's manifests from the pinned chart with kforge's values pass a
// server-side dry run; then the node agent's own install path (Helm SDK,
// install or upgrade) installs and, run again as on a restored control
// plane, leaves the release as it is; other values upgrade it.
func checkCilium(t *testing.T, e *env, a artifacts) {
	values := addons.CiliumValues(a.addonCfg)
	manifest, err := cni.Render(values, e.bin.Version)
	if err != nil {
		t.Fatal(err)
	}
	// The real install first, through the agent's own code: it creates the
	// chart's namespaces (owned by the release, as Helm requires), which the
	// server-side dry run below needs.
	ctx := context.Background()
	first, err := cni.InstallOrUpgrade(ctx, adminConf, values, cni.Options{})
	if err != nil {
		t.Fatalf("installing Cilium as the node agent does: %v", err)
	}
	second, err := cni.InstallOrUpgrade(ctx, adminConf, values, cni.Options{})
	if err != nil {
		t.Fatalf("installing Cilium again (a restored control plane finds the release): %v", err)
	}
	// Other values (a new kforge release's) upgrade the release.
	changed := maps.Clone(values)
	changed["podLabels"] = map[string]any{"kforge.io/conformance": "changed-values"}
	third, err := cni.InstallOrUpgrade(ctx, adminConf, changed, cni.Options{})
	if err != nil {
		t.Fatalf("installing Cilium with other values: %v", err)
	}
	if first.Action != "install" || second != (cni.Result{Action: "unchanged", Revision: first.Revision}) || third.Action != "upgrade" || third.Revision != first.Revision+1 {
		t.Fatalf("want install, the same release left unchanged (no upgrade waiting for every Cilium pod), then an upgrade for other values; got %+v, %+v, %+v", first, second, third)
	}
	path := e.write("cilium.yaml", []byte(manifest))
	if _, err := e.kubectl("apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", path); err != nil {
		t.Fatalf("the API server rejects the Cilium %s chart rendered with kforge's values:\n%v", upstream.CiliumChartVersion, err)
	}
}

// 4. Every add-on manifest passes a server-side dry run after its
// namespaces exist, a real apply twice changes nothing the second time, and
// an unknown field is refused.
func checkAddons(t *testing.T, e *env, a artifacts) {
	rest := createNamespaces(t, e, "add-ons", docs(t, a.addons))
	// Cilium's own CRDs (CiliumClusterwideNetworkPolicy) are registered by
	// cilium-operator at run time, which does not run here; objects of CRD
	// kinds the API server does not serve are reported, not checked.
	var checked []map[string]any
	for _, o := range rest {
		apiVersion, _ := o["apiVersion"].(string)
		group, _, _ := strings.Cut(apiVersion, "/")
		if strings.HasSuffix(group, "cilium.io") {
			if _, err := e.kubectl("get", "crd", "ciliumclusterwidenetworkpolicies.cilium.io"); err != nil {
				t.Logf("not checked (no Cilium CRDs without cilium-operator): %s", kindName(o))
				continue
			}
		}
		checked = append(checked, o)
	}
	path := e.write("addons.yaml", toYAML(t, checked...))
	if _, err := e.kubectl("apply", "--server-side", "--force-conflicts", "--dry-run=server", "-f", path); err != nil {
		t.Fatalf("the API server rejects kforge's add-on manifests:\n%v", err)
	}
	// Strictness: the same dry run refuses an unknown field.
	for _, o := range checked {
		if o["kind"] != "Deployment" {
			continue
		}
		bad := deepCopy(t, o)
		tmpl := bad["spec"].(map[string]any)["template"].(map[string]any)["spec"].(map[string]any)
		tmpl["kforgeUnknownField"] = true
		_, err := e.kubectl("apply", "--server-side", "--dry-run=server", "-f", e.write("unknown-field.yaml", toYAML(t, bad)))
		if err == nil || !strings.Contains(err.Error(), "kforgeUnknownField") {
			t.Fatalf("a server-side dry run of %s with an unknown field was not refused (%v): the check is not strict", kindName(o), err)
		}
		break
	}
	if _, err := e.kubectl("apply", "--server-side", "--force-conflicts", "-f", path); err != nil {
		t.Fatalf("applying kforge's add-on manifests:\n%v", err)
	}
	before := resourceVersions(t, e, path)
	if _, err := e.kubectl("apply", "--server-side", "--force-conflicts", "-f", path); err != nil {
		t.Fatalf("applying kforge's add-on manifests a second time:\n%v", err)
	}
	after := resourceVersions(t, e, path)
	for k, v := range before {
		if after[k] != v {
			t.Errorf("a second server-side apply changed %s (resourceVersion %s -> %s)", k, v, after[k])
		}
	}
}

func resourceVersions(t *testing.T, e *env, path string) map[string]string {
	t.Helper()
	out, err := e.kubectl("get", "-f", path, "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var list struct {
		Items []struct {
			Kind     string `json:"kind"`
			Metadata struct {
				Name, Namespace, ResourceVersion string
			} `json:"metadata"`
		} `json:"items"`
	}
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("kubectl get -o json: %v", err)
	}
	rv := map[string]string{}
	for _, it := range list.Items {
		rv[it.Kind+"/"+it.Metadata.Namespace+"/"+it.Metadata.Name] = it.Metadata.ResourceVersion
	}
	return rv
}

func deepCopy(t *testing.T, o map[string]any) map[string]any {
	raw, err := json.Marshal(o)
	if err != nil {
		t.Fatal(err)
	}
	var c map[string]any
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

// upstreamDir is internal/upstream in this checkout.
func upstreamDir(t *testing.T) string {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(wd, "..", "..", "internal", "upstream")
}

// cgroupV2 reports whether /sys/fs/cgroup is the unified (v2) hierarchy.
func cgroupV2() bool {
	var st syscall.Statfs_t
	return syscall.Statfs("/sys/fs/cgroup", &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC
}

// createNamespaces creates the Namespace objects among objs for real (a
// server-side dry run of objects inside a new namespace fails otherwise)
// and returns the other objects.
func createNamespaces(t *testing.T, e *env, what string, objs []map[string]any) []map[string]any {
	t.Helper()
	var namespaces, rest []map[string]any
	for _, o := range objs {
		if o["kind"] == "Namespace" {
			namespaces = append(namespaces, o)
		} else {
			rest = append(rest, o)
		}
	}
	if len(namespaces) > 0 {
		if _, err := e.kubectl("apply", "--server-side", "-f", e.write("namespaces.yaml", toYAML(t, namespaces...))); err != nil {
			t.Fatalf("creating the %s namespaces:\n%v", what, err)
		}
	}
	return rest
}
