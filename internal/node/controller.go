package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/kforge/kforge/internal/addons"
	"github.com/kforge/kforge/internal/cni"
	"github.com/kforge/kforge/internal/kubeadm"
)

const (
	adminConf       = "/etc/kubernetes/admin.conf"
	caCert          = "/etc/kubernetes/pki/ca.crt"
	kubeadmConfPath = "/etc/kubernetes/kforge-kubeadm.yaml"
	etcdDB          = "/var/lib/etcd/member/snap/db"
	// TokenTTL is the bootstrap token lifetime; RefreshBefore is how much of
	// it may remain before the hourly timer rotates it.
	TokenTTL      = 24 * time.Hour
	RefreshBefore = 12 * time.Hour
)

// controllerPhases brings up a usable control plane first: join material,
// the first backup and the timers come before any add-on, so workers can
// join and the cluster is backed up even when an add-on never becomes
// ready. The add-ons phase comes after the node is Ready and never fails
// the bootstrap: kforge-addons.timer retries it until it succeeds.
func (a *Agent) controllerPhases() []phase {
	cni := phase{name: "cni", done: a.fileExists(a.cniMarker()), run: a.installCNI}
	if a.lab != nil && a.lab.BridgeCNI {
		cni = a.labBridgeCNI(adminConf)
	}
	return []phase{
		a.installUnitsPhase(),
		a.prerequisitesPhase(),
		{name: "restore", done: a.restoreDone, run: a.restore},
		{name: "api-dns", run: a.pointAPIRecord},
		{name: "kubeadm-init", done: a.fileExists(kubeadmInitMarker), run: a.kubeadmInit},
		// Right after kubeadm init: the roles a join needs, bound to the
		// group of the tokens the agent publishes, before it publishes
		// one; and kubeadm's automatic approval of bootstrap client CSRs,
		// which init makes again for kubeadm's group, deleted before
		// anything slow (the CNI install), as a restored etcd may hold a
		// token of that group an older agent published. Only the agent's
		// approver admits a joining kubelet; its timer runs from now, as
		// joins may begin at once.
		{name: "join-approval", run: func(ctx context.Context) error {
			if err := a.applyWorkerJoinRBAC(ctx); err != nil {
				return err
			}
			if err := a.removeBootstrapAutoApproval(ctx); err != nil {
				return err
			}
			return a.runAll(ctx, Cmd("systemctl", "enable", "--now", "kforge-approve-csrs.timer"))
		}},
		// The API answers from here on. kforge kubeconfig, validate and
		// roll find it through these two objects, which the backup phase
		// would write only after the CNI install and the first snapshot:
		// a replacement would stay unreachable through kforge while one
		// of those keeps failing.
		{name: "publish-admin", run: a.backupAdmin},
		{name: "restored-nodes", run: a.removeRestoredGoneNodes},
		cni,
		{name: "join-material", run: a.publishJoinMaterial},
		// The backup's etcd snapshot goes through kubectl exec, which the
		// API server reaches over the kubelet's serving certificate: its CSR
		// must be approved first (the approver's timer may not have run yet).
		// A failure here is logged: the backup then fails and the attempt
		// is retried, approving again.
		{name: "approve-csrs", run: func(ctx context.Context) error {
			if err := a.ApproveCSRs(ctx); err != nil {
				a.logger().Warn("approving the kubelet serving CSRs before the first backup", "error", err.Error())
			}
			return nil
		}},
		{name: "backup", run: a.Backup},
		{name: "timers", run: func(ctx context.Context) error {
			if err := a.labTokenTimer(ctx); err != nil {
				return err
			}
			return a.runAll(ctx, Cmd("systemctl", "enable", "--now", "kforge-refresh-token.timer", "kforge-backup.timer", "kforge-upgrade.timer", "kforge-renew-certs.timer"))
		}},
		{name: "node-events-drainer", run: a.enableDrainer},
		a.nodeReadyPhase(adminConf),
		{name: "addons", run: a.ApplyAddons, retriedBy: "kforge-addons.timer"},
		// Enabled only after this first attempt, so the timer (which fires at
		// once when the boot is older than its OnBootSec) does not apply the
		// add-ons alongside it on the first boot; on later boots the timer
		// is enabled already, and addonsLock makes the two take turns.
		{name: "addons-timer", run: func(ctx context.Context) error {
			return a.runAll(ctx, Cmd("systemctl", "enable", "--now", "kforge-addons.timer"))
		}},
	}
}

// drainEventsUnit is the control plane's drainer (kforge node drain-events).
const drainEventsUnit = "kforge-drain-events.service"

// enableDrainer starts kforge-drain-events.service, which drains the nodes
// of terminating worker instances, when the cluster has a node events
// queue; without one there is nothing to read.
func (a *Agent) enableDrainer(ctx context.Context) error {
	if a.Cluster.NodeEventsQueueURL == "" {
		a.logger().Info("no node events queue in cluster.json; the drainer is not started")
		return a.runAll(ctx, Cmd("systemctl", "disable", "--now", drainEventsUnit))
	}
	return a.runAll(ctx, Cmd("systemctl", "enable", "--now", drainEventsUnit))
}

// rotateAfterRestore marks a restore whose join material is not yet
// replaced: the published token may have been created after the snapshot
// and so be unknown to the restored etcd. The marker survives a crash
// between the restore and the rotation.
const rotateAfterRestore = stateDir + "/rotate-join-material"

func (a *Agent) publishJoinMaterial(ctx context.Context) error {
	force := Exists(a.Host, rotateAfterRestore)
	if force {
		a.logger().Info("etcd or PKI restored: rotating the join material whatever its age")
	}
	if _, err := a.refreshToken(ctx, force); err != nil {
		return err
	}
	if force {
		_, err := a.run(ctx, "rm", "-f", rotateAfterRestore)
		return err
	}
	return nil
}

func (a *Agent) kubectl(args ...string) Command {
	return Cmd("kubectl", append([]string{"--kubeconfig", adminConf}, args...)...)
}

// pointAPIRecord makes api.<domain> resolve to this instance: in Route 53
// for the workers, and in /etc/hosts so kubeadm init does not wait for DNS.
// The record holds the private address: nodes always reach it, and the
// API is not published to the internet (see docs/NODES.md).
func (a *Agent) pointAPIRecord(ctx context.Context) error {
	if err := a.DNS.UpsertA(ctx, a.Cluster.APIRecordZone(), a.Cluster.APIDNSName, a.Instance.PrivateIP); err != nil {
		return err
	}
	hosts, err := a.Host.ReadFile("/etc/hosts")
	if err != nil && !errors.Is(err, errNotExist) {
		return err
	}
	line := fmt.Sprintf("%s %s # kforge", a.Instance.PrivateIP, a.Cluster.APIDNSName)
	var kept []string
	for _, l := range strings.Split(strings.TrimRight(string(hosts), "\n"), "\n") {
		if l != "" && !strings.HasSuffix(l, " "+a.Cluster.APIDNSName+" # kforge") {
			kept = append(kept, l)
		}
	}
	kept = append(kept, line)
	return a.Host.WriteFile("/etc/hosts", []byte(strings.Join(kept, "\n")+"\n"), 0o644)
}

// kubeadmInitMarker is written once `kubeadm init` has succeeded.
// admin.conf cannot tell: init writes it early (phase kubeconfig), and
// an init that stops later (the wait for the control plane timed out, an
// upload failed) leaves a cluster without its bootstrap-token RBAC,
// kubeadm-config or CoreDNS, which a retry must finish.
const kubeadmInitMarker = stateDir + "/kubeadm-init.done"

func (a *Agent) kubeadmInit(ctx context.Context) error {
	if err := a.prepareAPIServerFiles(); err != nil {
		return err
	}
	if err := a.writeKubeletPatch(); err != nil {
		return err
	}
	restored := Exists(a.Host, etcdDB)
	// An earlier attempt's kubeconfig: it passed the preflight checks.
	resume := Exists(a.Host, adminConf)
	if resume {
		a.logger().Warn("an earlier kubeadm init on this node stopped before it finished; running it again over what it left")
	}
	quota, err := a.etcdQuotaGiB(restored)
	if err != nil {
		return err
	}
	cfg, err := kubeadm.RenderControlPlane(kubeadm.ControlPlane{
		ClusterName:       a.Cluster.ClusterName,
		KubernetesVersion: a.Cluster.KubernetesVersion,
		APIDNSName:        a.Cluster.APIDNSName,
		PodCIDR:           a.Cluster.PodCIDR,
		ServiceCIDR:       a.Cluster.ServiceCIDR,
		NodeName:          a.Instance.Hostname,
		PrivateIP:         a.Instance.PrivateIP,
		PublicIP:          a.Instance.PublicIP,
		ProviderID:        a.Instance.ProviderID(),
		Labels:            a.ControlPlaneLabels(),
		RestoredEtcd:      restored,
		Resume:            resume,
		EtcdQuotaGiB:      quota,
		AllowCgroupV1:     a.lab != nil && a.lab.CgroupV1,
		SharedHostDisk:    a.lab != nil && a.lab.SharedDisk,
		PatchesDir:        kubeadm.PatchesDir,
	})
	if err != nil {
		return err
	}
	if err := a.Host.WriteFile(kubeadmConfPath, cfg, 0o600); err != nil {
		return err
	}
	if _, err := a.run(ctx, "kubeadm", "init", "--config", kubeadmConfPath); err != nil {
		return err
	}
	if err := a.syncDisk(ctx); err != nil {
		return err
	}
	return a.Host.WriteFile(kubeadmInitMarker, []byte(a.now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

func (a *Agent) cniMarker() string {
	return fmt.Sprintf("%s/cni-cilium-%s.done", stateDir, addons.CiliumVersion)
}

// installCNI installs Cilium from the chart vendored in kforge (checked
// against its pin) through the Helm SDK, or upgrades the release when it
// already exists: a control plane restored from an etcd snapshot finds the
// release there and must converge on it rather than fail.
func (a *Agent) installCNI(ctx context.Context) error {
	installer := a.CNI
	if installer == nil {
		installer = HelmCNI{Log: a.logger()}
	}
	res, err := installer.InstallOrUpgrade(ctx, adminConf, addons.CiliumValues(a.addonConfig()))
	if err != nil {
		return err
	}
	a.logger().Info("cilium installed", "action", res.Action, "revision", res.Revision, "version", addons.CiliumVersion)
	return a.Host.WriteFile(a.cniMarker(), []byte(addons.CiliumVersion+"\n"), 0o644)
}

// CNIInstaller installs or upgrades the CNI release in the cluster that
// kubeconfig points at.
type CNIInstaller interface {
	InstallOrUpgrade(ctx context.Context, kubeconfig string, values map[string]any) (cni.Result, error)
}

// HelmCNI is the CNIInstaller nodes use: the Helm SDK with the vendored
// chart, waiting until Cilium's workloads are ready.
type HelmCNI struct{ Log *slog.Logger }

// InstallOrUpgrade implements CNIInstaller.
func (h HelmCNI) InstallOrUpgrade(ctx context.Context, kubeconfig string, values map[string]any) (cni.Result, error) {
	return cni.InstallOrUpgrade(ctx, kubeconfig, values, cni.Options{Wait: true, Timeout: 10 * time.Minute, Log: h.Log})
}

func (a *Agent) addonConfig() addons.Config {
	return addons.Config{
		ClusterName:       a.Cluster.ClusterName,
		KubernetesVersion: a.Cluster.KubernetesVersion,
		Region:            a.Cluster.Region,
		APIHost:           a.Cluster.APIDNSName,
		Domain:            a.Cluster.Domain,
		PodCIDR:           a.Cluster.PodCIDR,
		EFSID:             a.Cluster.EFSID,
		ACMEEmail:         a.Cluster.ACMEEmail,
		HTTPNodePort:      a.Cluster.HTTPNodePort,
		HTTPSNodePort:     a.Cluster.HTTPSNodePort,
	}
}

// addonsWaitTimeout bounds the wait for cert-manager's webhook in one
// attempt; a timeout fails the attempt, and kforge-addons.timer retries.
const addonsWaitTimeout = "600s"

// addonsMarker names the add-ons state that was applied completely: a hash
// of the rendered manifests and the upstream bundles' URLs and pins, so a
// newer agent with other add-ons applies them again.
func (a *Agent) addonsMarker(manifests, issuers []byte) string {
	h := sha256.New()
	for _, r := range addons.Remotes() {
		fmt.Fprintf(h, "%s %s %s\n", r.Name, r.URL, r.SHA256)
	}
	h.Write(manifests)
	h.Write(issuers)
	return fmt.Sprintf("%s/addons-%s.done", stateDir, hex.EncodeToString(h.Sum(nil))[:16])
}

// addonsLock serialises ApplyAddons between a boot's add-ons phase and
// kforge-addons.timer, which both run it after a reboot: the two would
// write the same downloaded bundle at once, and one could apply a file the
// other had half written.
const addonsLock = "/run/kforge-addons.lock"

// ApplyAddons applies upstream release bundles (cert-manager), then the
// manifests kforge renders, then the ClusterIssuers, which need
// cert-manager's CRDs and webhook. Server-side apply makes a re-run a
// no-op; once every step succeeded a marker makes later runs (from
// kforge-addons.timer) return at once.
func (a *Agent) ApplyAddons(ctx context.Context) error {
	unlock, err := lock(ctx, a.Host, addonsLock)
	if err != nil {
		return fmt.Errorf("waiting for another run of the add-ons to finish: %w", err)
	}
	defer unlock()
	lab, err := a.labSettings()
	if err != nil {
		return err
	}
	offline := lab != nil && lab.OfflineAddons
	cfg := a.addonConfig()
	objs, err := addons.Objects(cfg)
	if err != nil {
		return err
	}
	remotes := addons.Remotes()
	issuers, err := addons.RenderIssuers(cfg)
	if err != nil {
		return err
	}
	if offline {
		objs = a.offlineAddons(objs, lab.BridgeCNI)
		remotes, issuers = nil, nil
	}
	manifests, err := addons.RenderObjects(objs)
	if err != nil {
		return err
	}
	marker := a.addonsMarker(manifests, issuers)
	if Exists(a.Host, marker) {
		a.logger().Info("add-ons already applied", "marker", marker)
		return nil
	}
	for _, r := range remotes {
		path := fmt.Sprintf("%s/addons/%s.yaml", stateDir, r.Name)
		if _, err := a.run(ctx, "curl", "-fsSL", "--retry", "5", "--create-dirs", "-o", path, r.URL); err != nil {
			return err
		}
		data, err := a.Host.ReadFile(path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(data)
		got := hex.EncodeToString(sum[:])
		if r.SHA256 != "" && r.SHA256 != got {
			return fmt.Errorf("add-on %s: SHA-256 of %s is %s, pinned %s", r.Name, r.URL, got, r.SHA256)
		}
		a.logger().Info("add-on bundle fetched", "addon", r.Name, "url", r.URL, "sha256", got, "pinned", r.SHA256 != "")
		if err := a.runAll(ctx, a.kubectl("apply", "--server-side", "--force-conflicts", "-f", path)); err != nil {
			return err
		}
	}
	steps := []struct {
		name string
		data []byte
	}{{"kforge-addons", manifests}, {"kforge-issuers", issuers}}
	if offline {
		steps = steps[:1]
	}
	for i, s := range steps {
		path := fmt.Sprintf("%s/addons/%s.yaml", stateDir, s.name)
		if err := a.Host.WriteFile(path, s.data, 0o600); err != nil {
			return err
		}
		if i == 1 {
			// The ClusterIssuer kind exists only once cert-manager's webhook serves.
			if err := a.runAll(ctx, a.kubectl("-n", "cert-manager", "wait", "--for=condition=Available",
				"deployment/cert-manager-webhook", "--timeout="+addonsWaitTimeout)); err != nil {
				return fmt.Errorf("waiting for cert-manager's webhook before the ClusterIssuers: %w", err)
			}
		}
		apply := a.kubectl("apply", "--server-side", "--force-conflicts", "-f", path)
		if i == 1 {
			if err := a.applyIssuers(ctx, apply); err != nil {
				return err
			}
			continue
		}
		if err := a.runAll(ctx, apply); err != nil {
			return err
		}
	}
	return a.Host.WriteFile(marker, []byte(a.now().UTC().Format(time.RFC3339)+"\n"), 0o644)
}

// issuersApplyAttempts and issuersApplyPause bound how long the
// ClusterIssuers' apply is retried once cert-manager's webhook is
// Available: the API server calls the webhook only once cainjector has
// written its CA bundle, which cainjector does on its own schedule; until
// then every apply is refused (x509: certificate signed by unknown
// authority), and without a retry the issuers waited for the add-ons
// timer's next run, ten minutes on.
const (
	issuersApplyAttempts = 24
	issuersApplyPause    = 5 * time.Second
)

func (a *Agent) applyIssuers(ctx context.Context, apply Command) error {
	var err error
	for attempt := 1; attempt <= issuersApplyAttempts; attempt++ {
		if _, err = a.Host.Run(ctx, apply); err == nil {
			return nil
		}
		a.logger().Info("ClusterIssuers refused; retrying (cert-manager's webhook may not have its CA bundle yet)", "attempt", attempt, "error", err)
		if serr := a.Backoff.sleep(ctx, issuersApplyPause); serr != nil {
			return serr
		}
	}
	return fmt.Errorf("applying the ClusterIssuers (%d attempts, %s apart): %w", issuersApplyAttempts, issuersApplyPause, err)
}

// RefreshToken rotates the bootstrap token when the published join material
// is missing or expires within RefreshBefore, and rewrites workers/join.json.
// It reports whether it rotated. Replaced tokens are deleted only after
// TokenGrace (see retireToken).
func (a *Agent) RefreshToken(ctx context.Context) (bool, error) {
	return a.refreshToken(ctx, false)
}

func (a *Agent) refreshToken(ctx context.Context, force bool) (bool, error) {
	now := a.now()
	times, err := a.tokenTimes()
	if err != nil {
		return false, err
	}
	if err := a.deleteRetiredTokens(ctx, now, times.grace); err != nil {
		return false, err
	}
	current, err := ReadJoin(ctx, a.Bucket)
	switch {
	case err == nil && !force && current.Expires.Sub(now) > times.refreshBefore:
		a.logger().Info("join material still fresh", "expires", current.Expires.Format(time.RFC3339))
		return false, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		a.logger().Warn("join material unreadable; replacing it", "error", err.Error())
	}
	out, err := a.run(ctx, "kubeadm", WorkerTokenArgs(times.ttl)...)
	if err != nil {
		return false, err
	}
	token := strings.TrimSpace(out)
	ca, err := a.Host.ReadFile(caCert)
	if err != nil {
		return false, err
	}
	hash, err := CACertHash(ca)
	if err != nil {
		return false, err
	}
	// Joining matters more than the skew check it enables: without the
	// version the material is still published, and workers do not wait.
	running, err := a.runningControlPlaneVersion()
	if err != nil {
		a.logger().Warn("join material published without the control plane's version", "error", err.Error())
	}
	next := JoinMaterial{
		APIEndpoint:         fmt.Sprintf("%s:%d", a.Cluster.APIDNSName, kubeadm.APIServerPort),
		Token:               token,
		CACertHashes:        []string{hash},
		Expires:             now.Add(times.ttl).UTC().Truncate(time.Second),
		ControlPlaneVersion: running,
		CACert:              string(ca),
	}
	if err := PublishJoin(ctx, a.Bucket, next); err != nil {
		return false, err
	}
	a.logger().Info("join material published", "key", JoinKey, "expires", next.Expires.Format(time.RFC3339))
	if current.Token != "" && current.Token != token {
		id, _, _ := strings.Cut(current.Token, ".")
		if err := a.retireToken(id, now, times.grace); err != nil {
			return true, err
		}
	}
	return true, nil
}

// WorkerTokenArgs are the arguments of the `kubeadm token create` that
// makes the token workers/join.json publishes: valid for ttl, in
// addons.WorkerTokenGroup, to which kubeadm's automatic approval of
// bootstrap client CSRs does not apply.
func WorkerTokenArgs(ttl time.Duration) []string {
	return []string{"token", "create", "--kubeconfig", adminConf, "--ttl", ttl.String(),
		"--description", "kforge worker join; rotated by kforge-refresh-token.timer", "--groups", addons.WorkerTokenGroup}
}

// TokenGrace is how long a replaced bootstrap token stays valid: a worker
// that read the old join material just before the rotation is still inside
// its `kubeadm join` for at most kubeadm.JoinTimeout. The hourly refresh
// timer deletes it on its first run after the grace.
const TokenGrace = time.Hour

// retiredTokensFile lists replaced token IDs (the public half only) with
// when they were replaced.
const retiredTokensFile = stateDir + "/retired-tokens.json"

type retiredToken struct {
	ID      string    `json:"id"`
	Retired time.Time `json:"retired"`
}

func (a *Agent) readRetiredTokens() ([]retiredToken, error) {
	raw, err := a.Host.ReadFile(retiredTokensFile)
	if errors.Is(err, errNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []retiredToken
	if err := json.Unmarshal(raw, &out); err != nil {
		// A damaged list only delays deletion: the tokens still expire by TTL.
		a.logger().Warn("retired token list unreadable; starting a new one", "file", retiredTokensFile, "error", err.Error())
		return nil, nil
	}
	return out, nil
}

func (a *Agent) writeRetiredTokens(ts []retiredToken) error {
	raw, err := json.Marshal(ts)
	if err != nil {
		return fmt.Errorf("encoding retired tokens: %w", err)
	}
	return a.Host.WriteFile(retiredTokensFile, raw, 0o600)
}

func (a *Agent) retireToken(id string, now time.Time, grace time.Duration) error {
	ts, err := a.readRetiredTokens()
	if err != nil {
		return err
	}
	ts = append(ts, retiredToken{ID: id, Retired: now.UTC()})
	a.logger().Info("previous bootstrap token kept for the grace period", "token_id", id, "grace", grace.String())
	return a.writeRetiredTokens(ts)
}

// deleteRetiredTokens deletes the replaced tokens whose grace has passed.
func (a *Agent) deleteRetiredTokens(ctx context.Context, now time.Time, grace time.Duration) error {
	ts, err := a.readRetiredTokens()
	if err != nil || len(ts) == 0 {
		return err
	}
	var keep []retiredToken
	for _, t := range ts {
		if now.Sub(t.Retired) < grace {
			keep = append(keep, t)
			continue
		}
		// The token may already be gone (expired and collected, or created
		// after the snapshot a restore came from); that is fine.
		if _, err := a.run(ctx, "kubeadm", "token", "delete", "--kubeconfig", adminConf, t.ID); err != nil {
			a.logger().Warn("deleting a retired bootstrap token", "token_id", t.ID, "error", err.Error())
		}
	}
	if len(keep) == len(ts) {
		return nil
	}
	return a.writeRetiredTokens(keep)
}

// apiAddresses is controller/api-addresses.json: where kforge kubeconfig
// can reach the API from outside the VPC (the certificate holds both IPs).
type apiAddresses struct {
	PrivateIP string `json:"private_ip"`
	PublicIP  string `json:"public_ip,omitempty"`
}

func (a *Agent) backupAdmin(ctx context.Context) error {
	conf, err := a.Host.ReadFile(adminConf)
	if err != nil {
		return err
	}
	if err := a.Bucket.Put(ctx, AdminConfKey, conf); err != nil {
		return err
	}
	addrs, err := json.Marshal(apiAddresses{PrivateIP: a.Instance.PrivateIP, PublicIP: a.Instance.PublicIP})
	if err != nil {
		return fmt.Errorf("encoding API addresses: %w", err)
	}
	return a.Bucket.Put(ctx, APIAddressesKey, addrs)
}
