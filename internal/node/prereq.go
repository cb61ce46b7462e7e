package node

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/kforge/kforge/internal/kubeadm"
)

const (
	stateDir = "/var/lib/kforge"
	envFile  = "/etc/kforge/node.env"
	unitDir  = "/etc/systemd/system"
)

// kubernetesRepo pins the pkgs.k8s.io RPM repository to the cluster's minor
// and excludes the packages from `dnf upgrade`, so only the agent moves
// them (to the exact version in cluster.json).
func kubernetesRepo(minor string) string {
	return fmt.Sprintf(`[kubernetes]
name=Kubernetes %[1]s (pkgs.k8s.io)
baseurl=https://pkgs.k8s.io/core:/stable:/v%[1]s/rpm/
enabled=1
gpgcheck=1
repo_gpgcheck=1
gpgkey=https://pkgs.k8s.io/core:/stable:/v%[1]s/rpm/repodata/repomd.xml.key
exclude=kubelet kubeadm kubectl cri-tools kubernetes-cni
`, minor)
}

// KubernetesRepo is the repository file the agent writes for a minor
// (/etc/yum.repos.d/kubernetes.repo); the lab's dnf stand-in serves what
// it names.
func KubernetesRepo(minor string) []byte { return []byte(kubernetesRepo(minor)) }

const modulesConf = "overlay\nbr_netfilter\n"

// sysctlConf also raises the inotify limits from the kernel's 128
// instances per user: the kubelet, containerd, Cilium and most containers
// run as root and share them, and a busy node runs out ("too many open
// files" from fsnotify watchers). The values are the EKS AL2023 AMI's.
const sysctlConf = `net.bridge.bridge-nf-call-iptables = 1
net.bridge.bridge-nf-call-ip6tables = 1
net.ipv4.ip_forward = 1
fs.inotify.max_user_instances = 8192
fs.inotify.max_user_watches = 524288
`

// networkdConf keeps systemd-networkd, which manages the ENIs on Amazon
// Linux 2023, from deleting routes and policy rules it did not create:
// Cilium's. Without it a networkd restart (a package update, a new ENI)
// silently breaks pod networking.
const (
	networkdConfPath = "/etc/systemd/networkd.conf.d/80-kforge.conf"
	networkdConf     = `# kforge: leave Cilium's routes and routing rules alone.
[Network]
ManageForeignRoutes=no
ManageForeignRoutingPolicyRules=no
`
)

// hostPackages are what kubeadm's preflight and the agent need beyond a
// minimal Amazon Linux 2023 (docs/NODES.md lists each check): containerd;
// iptables-nft for the iptables kubeadm requires (AL2023 ships no iptables);
// iproute-tc for tc; util-linux for nsenter (the minimal AMI may carry only
// util-linux-core); ethtool and socat, which kubeadm warns about;
// conntrack-tools for debugging conntrack state; tar for the cilium CLI.
var hostPackages = []string{"containerd", "iptables-nft", "iproute-tc", "util-linux", "ethtool", "socat", "conntrack-tools", "tar"}

// nodeEnv is what the systemd units read to re-run the agent.
func (a *Agent) nodeEnv() []byte {
	o := a.Options
	return fmt.Appendf(nil, "KFORGE_ROLE=%s\nKFORGE_POOL=%s\nKFORGE_BUCKET=%s\nKFORGE_CONFIG_KEY=%s\nKFORGE_REGION=%s\n",
		o.Role, o.Pool, o.Bucket, o.ConfigKey, o.Region)
}

// installUnitsPhase writes node.env and the units and enables the
// bootstrap unit, so every later boot re-runs the (idempotent) agent.
func (a *Agent) installUnitsPhase() phase {
	return phase{
		name: "install-units",
		// Done only when node.env and every unit match this agent's, so a
		// newer agent rewrites changed units.
		done: func(context.Context) (bool, error) {
			got, err := a.Host.ReadFile(envFile)
			if err != nil || !bytes.Equal(got, a.nodeEnv()) {
				return false, nil
			}
			us, err := RenderUnits(a.unitSettings())
			if err != nil {
				return false, err
			}
			for name, want := range us {
				if got, err := a.Host.ReadFile(unitDir + "/" + name); err != nil || !bytes.Equal(got, want) {
					return false, nil
				}
			}
			return true, nil
		},
		run: func(ctx context.Context) error {
			if err := a.Host.WriteFile(envFile, a.nodeEnv(), 0o644); err != nil {
				return err
			}
			a.warnUnitSettings()
			us, err := RenderUnits(a.unitSettings())
			if err != nil {
				return err
			}
			for _, name := range slices.Sorted(maps.Keys(us)) {
				if err := a.Host.WriteFile(unitDir+"/"+name, us[name], 0o644); err != nil {
					return err
				}
			}
			return a.runAll(ctx, Cmd("systemctl", "daemon-reload"), Cmd("systemctl", "enable", "kforge-bootstrap.service"))
		},
	}
}

// prerequisitesRevision is part of the phase's marker: raise it when the
// host setup changes, so nodes set up by an older agent apply it at their
// next boot (2: networkd drop-in, iptables-nft and the preflight tools;
// 3: containerd's sandbox image is the pause kubeadm names; 4: inotify
// limits).
const prerequisitesRevision = 4

// prerequisitesMarker is the prerequisites phase's marker for the cluster's
// Kubernetes version.
func (a *Agent) prerequisitesMarker() string {
	return fmt.Sprintf("%s/prerequisites-%s-r%d.done", stateDir, a.Cluster.KubernetesVersion, prerequisitesRevision)
}

func (a *Agent) prerequisitesPhase() phase {
	marker := a.prerequisitesMarker()
	v := a.Cluster.KubernetesVersion
	return phase{
		name: "prerequisites",
		done: a.fileExists(marker),
		run: func(ctx context.Context) error {
			files := []struct {
				path string
				data string
			}{
				{"/etc/modules-load.d/kforge.conf", modulesConf},
				{"/etc/sysctl.d/99-kforge-kubernetes.conf", sysctlConf},
				{"/etc/yum.repos.d/kubernetes.repo", kubernetesRepo(a.Cluster.Minor())},
				{networkdConfPath, networkdConf},
			}
			for _, f := range files {
				if err := a.Host.WriteFile(f.path, []byte(f.data), 0o644); err != nil {
					return err
				}
			}
			steps := []Command{
				Cmd("modprobe", "overlay"),
				Cmd("modprobe", "br_netfilter"),
				Cmd("sysctl", "--system"),
				Cmd("swapoff", "-a"),
				Cmd("dnf", append([]string{"install", "-y"}, hostPackages...)...),
			}
			// A node that has joined (or initialised) keeps the Kubernetes
			// it runs: after cluster.json moved on, a reboot must not
			// upgrade its kubelet undrained, nor put a kubelet newer than
			// the API server on the control plane before its upgrade.
			// kforge roll replaces a worker; the control plane's upgrade
			// installs its own packages.
			if Exists(a.Host, kubeletConf) || Exists(a.Host, adminConf) {
				a.logger().Info("node already part of the cluster: its Kubernetes packages stay as they are", "cluster_json_version", v)
			} else {
				steps = append(steps, Cmd("dnf", "install", "-y", "--disableexcludes=kubernetes",
					"kubelet-"+v, "kubeadm-"+v, "kubectl-"+v))
			}
			if err := a.runAll(ctx, steps...); err != nil {
				return err
			}
			if err := a.writeContainerdConfig(ctx); err != nil {
				return err
			}
			if err := a.runAll(ctx,
				// networkd reads networkd.conf.d only when it starts; this is
				// before Cilium exists, so nothing of ours is lost.
				Cmd("systemctl", "try-restart", "systemd-networkd"),
				Cmd("systemctl", "restart", "containerd"),
				Cmd("systemctl", "enable", "containerd"),
				// kubelet restarts in a loop until kubeadm writes its config; that is expected.
				Cmd("systemctl", "enable", "--now", "kubelet"),
			); err != nil {
				return err
			}
			if err := a.syncDisk(ctx); err != nil {
				return err
			}
			return a.Host.WriteFile(marker, []byte(v+"\n"), 0o644)
		},
	}
}

// writeContainerdConfig writes containerd's configuration: its own
// defaults, with the systemd cgroup driver and the sandbox image set to the
// pause the installed kubeadm names for the cluster's release. A lab
// node's runtime settings are read here, whichever command writes it (the
// bootstrap, the control plane's upgrade): without them the lab's runc
// starts no container.
func (a *Agent) writeContainerdConfig(ctx context.Context) error {
	lab, err := a.labSettings()
	if err != nil {
		return err
	}
	defaults, err := a.run(ctx, "containerd", "config", "default")
	if err != nil {
		return err
	}
	// kubeadm is installed by now: it names the pause its release pulls.
	images, err := a.kubeadmImages(ctx)
	if err != nil {
		return err
	}
	conf, err := ContainerdConfig(defaults, images)
	if err != nil {
		return err
	}
	if lab != nil && lab.NoNewKeyring {
		if !strings.Contains(conf, "NoNewKeyring = false") {
			return fmt.Errorf("containerd default config has no NoNewKeyring setting for the lab's nodes")
		}
		conf = strings.ReplaceAll(conf, "NoNewKeyring = false", "NoNewKeyring = true")
	}
	if lab != nil && lab.RestrictOOMScoreAdj {
		if !strings.Contains(conf, "restrict_oom_score_adj = false") {
			return fmt.Errorf("containerd default config has no restrict_oom_score_adj setting for the lab's nodes")
		}
		conf = strings.ReplaceAll(conf, "restrict_oom_score_adj = false", "restrict_oom_score_adj = true")
	}
	return a.Host.WriteFile("/etc/containerd/config.toml", []byte(conf), 0o644)
}

// kubeadmImages asks the installed kubeadm which images it pulls for the
// cluster's release.
func (a *Agent) kubeadmImages(ctx context.Context) ([]string, error) {
	out, err := a.run(ctx, "kubeadm", kubeadm.ImagesListArgs(a.Cluster.KubernetesVersion)...)
	if err != nil {
		return nil, err
	}
	return kubeadm.ParseImages(out), nil
}
