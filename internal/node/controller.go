package node

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/kforge/kforge/internal/addons"
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

func (a *Agent) controllerPhases() []phase {
	return []phase{
		a.installUnitsPhase(),
		a.prerequisitesPhase(),
		{name: "restore", done: a.fileExists(caCert), run: a.restore},
		{name: "api-dns", run: a.pointAPIRecord},
		{name: "kubeadm-init", done: a.fileExists(adminConf), run: a.kubeadmInit},
		{name: "cni", done: a.fileExists(a.cniMarker()), run: a.installCNI},
		{name: "addons", run: a.applyAddons},
		{name: "join-material", run: func(ctx context.Context) error { _, err := a.RefreshToken(ctx); return err }},
		{name: "backup", run: a.Backup},
		{name: "timers", run: func(ctx context.Context) error {
			return a.runAll(ctx, Cmd("systemctl", "enable", "--now", "kforge-refresh-token.timer", "kforge-backup.timer"))
		}},
	}
}

func (a *Agent) kubectl(args ...string) Command {
	return Cmd("kubectl", append([]string{"--kubeconfig", adminConf}, args...)...)
}

// pointAPIRecord makes api.<domain> resolve to this instance: in Route 53
// for the workers, and in /etc/hosts so kubeadm init does not wait for DNS.
// The record holds the private address: nodes always reach it, and the
// API is not published to the internet (see docs/NODES.md).
func (a *Agent) pointAPIRecord(ctx context.Context) error {
	if err := a.DNS.UpsertA(ctx, a.Cluster.ZoneID, a.Cluster.APIDNSName, a.Instance.PrivateIP); err != nil {
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

func (a *Agent) kubeadmInit(ctx context.Context) error {
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
		RestoredEtcd:      Exists(a.Host, etcdDB),
	})
	if err != nil {
		return err
	}
	if err := a.Host.WriteFile(kubeadmConfPath, cfg, 0o600); err != nil {
		return err
	}
	_, err = a.run(ctx, "kubeadm", "init", "--config", kubeadmConfPath)
	return err
}

func (a *Agent) cniMarker() string {
	return fmt.Sprintf("%s/cni-cilium-%s.done", stateDir, addons.CiliumVersion)
}

// installCNI installs the pinned cilium CLI (checked against the release's
// published SHA-256) and lets it install the pinned Cilium version.
func (a *Agent) installCNI(ctx context.Context) error {
	cli := addons.CiliumCLI()
	tarball := stateDir + "/cilium-cli.tar.gz"
	if _, err := a.run(ctx, "curl", "-fsSL", "--retry", "5", "--create-dirs", "-o", tarball, cli.URL); err != nil {
		return err
	}
	sumFile, err := a.run(ctx, "curl", "-fsSL", "--retry", "5", cli.URL+".sha256sum")
	if err != nil {
		return err
	}
	data, err := a.Host.ReadFile(tarball)
	if err != nil {
		return err
	}
	if err := checkSHA256(data, strings.Fields(sumFile+" ")); err != nil {
		return fmt.Errorf("cilium CLI %s: %w", cli.URL, err)
	}
	if err := a.runAll(ctx, Cmd("tar", "-xzf", tarball, "-C", "/usr/local/bin", "cilium")); err != nil {
		return err
	}
	args := append([]string{"install"}, addons.CiliumInstallArgs(a.addonConfig())...)
	c := Cmd("/usr/local/bin/cilium", args...)
	c.Args = append(c.Args, "--wait")
	if _, err := a.Host.Run(ctx, Command{Name: "env", Args: append([]string{"KUBECONFIG=" + adminConf, c.Name}, c.Args...)}); err != nil {
		return err
	}
	return a.Host.WriteFile(a.cniMarker(), []byte(addons.CiliumVersion+"\n"), 0o644)
}

// checkSHA256 compares data with the first word of a sha256sum line.
func checkSHA256(data []byte, fields []string) error {
	if len(fields) == 0 || len(fields[0]) != 64 {
		return fmt.Errorf("no SHA-256 in the published checksum file")
	}
	sum := sha256.Sum256(data)
	if got := hex.EncodeToString(sum[:]); got != strings.ToLower(fields[0]) {
		return fmt.Errorf("SHA-256 mismatch: got %s, published %s", got, fields[0])
	}
	return nil
}

func (a *Agent) addonConfig() addons.Config {
	return addons.Config{
		ClusterName:       a.Cluster.ClusterName,
		KubernetesVersion: a.Cluster.KubernetesVersion,
		Region:            a.Cluster.Region,
		APIHost:           a.Cluster.APIDNSName,
		PodCIDR:           a.Cluster.PodCIDR,
		EFSID:             a.Cluster.EFSID,
		ACMEEmail:         a.Cluster.ACMEEmail,
		HTTPNodePort:      a.Cluster.HTTPNodePort,
		HTTPSNodePort:     a.Cluster.HTTPSNodePort,
	}
}

// applyAddons applies upstream release bundles (cert-manager), then the
// manifests kforge renders, then the ClusterIssuers, which need
// cert-manager's CRDs and webhook. Server-side apply makes a re-run a no-op.
func (a *Agent) applyAddons(ctx context.Context) error {
	cfg := a.addonConfig()
	for _, r := range addons.Remotes() {
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
	manifests, err := addons.Render(cfg)
	if err != nil {
		return err
	}
	issuers, err := addons.RenderIssuers(cfg)
	if err != nil {
		return err
	}
	steps := []struct {
		name string
		data []byte
	}{{"kforge-addons", manifests}, {"kforge-issuers", issuers}}
	for i, s := range steps {
		path := fmt.Sprintf("%s/addons/%s.yaml", stateDir, s.name)
		if err := a.Host.WriteFile(path, s.data, 0o600); err != nil {
			return err
		}
		if i == 1 {
			// The ClusterIssuer kind exists only once cert-manager's webhook serves.
			if err := a.runAll(ctx, a.kubectl("-n", "cert-manager", "wait", "--for=condition=Available",
				"deployment/cert-manager-webhook", "--timeout=600s")); err != nil {
				return err
			}
		}
		if err := a.runAll(ctx, a.kubectl("apply", "--server-side", "--force-conflicts", "-f", path)); err != nil {
			return err
		}
	}
	return nil
}

// RefreshToken rotates the bootstrap token when the published join material
// is missing or expires within RefreshBefore, and rewrites workers/join.json.
// It reports whether it rotated.
func (a *Agent) RefreshToken(ctx context.Context) (bool, error) {
	now := a.now()
	current, err := ReadJoin(ctx, a.Bucket)
	switch {
	case err == nil && current.Expires.Sub(now) > RefreshBefore:
		a.logger().Info("join material still fresh", "expires", current.Expires.Format(time.RFC3339))
		return false, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		a.logger().Warn("join material unreadable; replacing it", "error", err.Error())
	}
	out, err := a.run(ctx, "kubeadm", "token", "create", "--kubeconfig", adminConf,
		"--ttl", TokenTTL.String(), "--description", "kforge worker join; rotated by kforge-refresh-token.timer")
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
	next := JoinMaterial{
		APIEndpoint:  fmt.Sprintf("%s:%d", a.Cluster.APIDNSName, kubeadm.APIServerPort),
		Token:        token,
		CACertHashes: []string{hash},
		Expires:      now.Add(TokenTTL).UTC().Truncate(time.Second),
	}
	if err := PublishJoin(ctx, a.Bucket, next); err != nil {
		return false, err
	}
	a.logger().Info("join material published", "key", JoinKey, "expires", next.Expires.Format(time.RFC3339))
	if current.Token != "" && current.Token != token {
		id, _, _ := strings.Cut(current.Token, ".")
		// The old token may already be gone (expired and collected); that is fine.
		if _, err := a.run(ctx, "kubeadm", "token", "delete", "--kubeconfig", adminConf, id); err != nil {
			a.logger().Warn("deleting the previous bootstrap token", "error", err.Error())
		}
	}
	return true, nil
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
