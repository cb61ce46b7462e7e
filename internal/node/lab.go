package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
)

// LabSettingsPath is the lab's one node setting (docs/LAB.md): the file
// exists only on the nodes `make lab` and `kforge up local --nodes` boot on
// one machine, written there by the lab, never by Terraform or user data.
const LabSettingsPath = "/etc/kforge/lab.json"

// LabSettings are the substitutions a lab node makes for what one machine
// cannot offer. The agent honours them only in the local environment.
type LabSettings struct {
	// BridgeCNI replaces Cilium (whose agent image cannot be built offline)
	// with the reference bridge and host-local CNI plugins, on the pod range
	// the controller manager assigns to the node.
	BridgeCNI bool `json:"bridgeCNI"`
	// CgroupV1 lets the kubelet run on a cgroup v1 host (failCgroupV1:
	// false); Kubernetes 1.36 refuses v1 otherwise.
	CgroupV1 bool `json:"cgroupV1"`
	// OfflineAddons applies the add-ons as on AWS except what cannot come
	// from offline: cert-manager's release bundle (downloaded from GitHub)
	// and the ClusterIssuers, which need its webhook; with BridgeCNI also
	// the Cilium policy, whose kind only Cilium defines. Nothing waits for
	// an add-on's pods: their images cannot be pulled offline, so the lab
	// checks that the objects exist and the pods are scheduled.
	OfflineAddons bool `json:"offlineAddons"`
	// NoNewKeyring keeps runc from creating a session keyring per
	// container (containerd's NoNewKeyring): the keyring is not namespaced,
	// and the container a lab node runs in refuses the keyring calls.
	NoNewKeyring bool `json:"noNewKeyring"`
	// RestrictOOMScoreAdj keeps containers' oom_score_adj at or above
	// containerd's own (containerd's restrict_oom_score_adj): lowering it
	// needs CAP_SYS_RESOURCE, which a machine may withhold from the lab.
	RestrictOOMScoreAdj bool `json:"restrictOOMScoreAdj"`
	// SharedDisk lowers the kubelet's disk eviction thresholds to 1%: a
	// lab node's file system is the host machine's, which everything else
	// on it fills, and the defaults (15% free for images) tainted every
	// node with disk pressure on a busy machine.
	SharedDisk bool `json:"sharedDisk"`
	// TokenTTL, when set, replaces the bootstrap token's 24-hour lifetime
	// (a Go duration, 1m to 24h), so a lab run sees tokens rotate and
	// expire: the refresh timer runs every sixth of it, rotates once half
	// of it is left, and a replaced token is deleted after half of it.
	TokenTTL string `json:"tokenTTL,omitempty"`
}

// labTokenTTLMin bounds the lab's token lifetime from below: a worker
// must get through kubeadm join on a published token with half of it left.
const labTokenTTLMin = time.Minute

// tokenTTL is the lab's token lifetime; 0 when the setting is absent.
func (s *LabSettings) tokenTTL() (time.Duration, error) {
	if s == nil || s.TokenTTL == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(s.TokenTTL)
	if err != nil || d < labTokenTTLMin || d > TokenTTL {
		return 0, fmt.Errorf("%s: tokenTTL %q must be a duration from %s to %s (e.g. \"3m\")", LabSettingsPath, s.TokenTTL, labTokenTTLMin, TokenTTL)
	}
	return d, nil
}

// tokenTimes are the bootstrap token's lifetime, how much of it may remain
// before the refresh timer rotates it, and how long a replaced one is kept:
// production's, or the lab's shortened ones (LabSettings.TokenTTL).
type tokenTimes struct{ ttl, refreshBefore, grace time.Duration }

func (a *Agent) tokenTimes() (tokenTimes, error) {
	lab, err := a.labSettings()
	if err != nil {
		return tokenTimes{}, err
	}
	ttl, err := lab.tokenTTL()
	if err != nil || ttl == 0 {
		return tokenTimes{TokenTTL, RefreshBefore, TokenGrace}, err
	}
	return tokenTimes{ttl, ttl / 2, ttl / 2}, nil
}

// labTokenTimerDropIn is where the lab's faster refresh timer goes.
const labTokenTimerDropIn = unitDir + "/kforge-refresh-token.timer.d/kforge-lab.conf"

// labTokenTimer makes the refresh timer run every sixth of the lab's
// token lifetime (a drop-in that resets the hourly schedule), so a token
// is rotated with at least a third of its life left. Nothing without the
// setting.
func (a *Agent) labTokenTimer(ctx context.Context) error {
	ttl, err := a.lab.tokenTTL()
	if err != nil || ttl == 0 {
		return err
	}
	every := ttl / 6
	// An empty assignment resets every monotonic trigger of the timer (the
	// hourly ones), so it comes once, before the new ones. OnActiveSec
	// counts from the timer's start: in a container OnBootSec is the
	// container's start, long past by then.
	conf := fmt.Sprintf("# kforge lab: tokenTTL %s in %s.\n[Timer]\nOnBootSec=\nOnActiveSec=%s\nOnUnitActiveSec=%s\nRandomizedDelaySec=0\nAccuracySec=1s\n",
		ttl, LabSettingsPath, every, every)
	if err := a.Host.WriteFile(labTokenTimerDropIn, []byte(conf), 0o644); err != nil {
		return err
	}
	a.logger().Info("lab: short bootstrap tokens", "ttl", ttl.String(), "refresh_every", every.String(), "setting", LabSettingsPath)
	return a.runAll(ctx, Cmd("systemctl", "daemon-reload"))
}

// labSettings reads the lab setting: nil on every real node (no file).
// Present outside the local environment it is an error, so no cluster on
// AWS can ever run with a lab substitution.
func (a *Agent) labSettings() (*LabSettings, error) {
	data, err := a.Host.ReadFile(LabSettingsPath)
	if errors.Is(err, errNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if a.Cluster.Environment != "local" {
		return nil, fmt.Errorf("%s is a lab-only setting and this is the %q environment: remove the file (only the local environment's lab nodes may carry it)", LabSettingsPath, a.Cluster.Environment)
	}
	var s LabSettings
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("%s: %w", LabSettingsPath, err)
	}
	return &s, nil
}

// labCNIMarker records that the bridge configuration was written.
const labCNIMarker = stateDir + "/cni-lab-bridge.done"

// labBridgeCNI writes the bridge/host-local CNI configuration for this
// node's pod range (spec.podCIDR, assigned by the controller manager once
// the node registered), which makes the kubelet report the network ready.
// Pods on other nodes are not routed: the lab checks nodes and the control
// plane, not pod-to-pod traffic across nodes.
func (a *Agent) labBridgeCNI(kubeconfig string) phase {
	return phase{name: "cni-lab-bridge", done: a.fileExists(labCNIMarker), run: func(ctx context.Context) error {
		var cidr string
		deadline := a.now().Add(5 * time.Minute)
		for {
			out, err := a.run(ctx, "kubectl", "--kubeconfig", kubeconfig, "get", "node", a.Instance.Hostname, "-o", "jsonpath={.spec.podCIDR}")
			cidr = strings.TrimSpace(out)
			if err == nil && cidr != "" {
				break
			}
			if a.now().After(deadline) {
				return fmt.Errorf("node %s has no spec.podCIDR after 5 minutes (is the controller manager allocating node CIDRs?): %v", a.Instance.Hostname, err)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(3 * time.Second):
			}
		}
		conf, err := bridgeConflist(cidr)
		if err != nil {
			return err
		}
		if err := a.Host.WriteFile("/etc/cni/net.d/10-kforge-lab-bridge.conflist", conf, 0o644); err != nil {
			return err
		}
		a.logger().Info("lab: bridge CNI in place of Cilium", "podCIDR", cidr)
		return a.Host.WriteFile(labCNIMarker, []byte(cidr+"\n"), 0o644)
	}}
}

// bridgeConflist is the reference plugins' configuration: a bridge with
// the pod range's first address as gateway, host-local addresses from the
// range, masquerade for traffic leaving it, portmap for hostPorts.
func bridgeConflist(cidr string) ([]byte, error) {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return nil, fmt.Errorf("node pod range %q: %w", cidr, err)
	}
	conf := map[string]any{
		"cniVersion": "1.0.0",
		"name":       "kforge-lab",
		"plugins": []any{
			map[string]any{
				"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": true, "hairpinMode": true,
				"ipam": map[string]any{"type": "host-local", "ranges": [][]map[string]string{{{"subnet": p.Masked().String()}}},
					"routes": []map[string]string{{"dst": "0.0.0.0/0"}}},
			},
			map[string]any{"type": "portmap", "capabilities": map[string]bool{"portMappings": true}},
		},
	}
	return json.MarshalIndent(conf, "", "  ")
}

// ciliumGroup is the API group of Cilium's own kinds.
const ciliumGroup = "cilium.io"

// offlineAddons is what a lab node applies of the add-on objects: all of
// them, but for Cilium's kinds when the bridge CNI replaces Cilium (the
// kinds do not exist without it). What is left out is logged.
func (a *Agent) offlineAddons(objs []runtime.Object, bridgeCNI bool) []runtime.Object {
	var keep []runtime.Object
	for _, o := range objs {
		gvk := o.GetObjectKind().GroupVersionKind()
		if bridgeCNI && gvk.Group == ciliumGroup {
			a.logger().Info("lab node: add-on object left out (Cilium defines its kind; the bridge CNI replaces Cilium)", "kind", gvk.Kind)
			continue
		}
		keep = append(keep, o)
	}
	a.logger().Info("lab node: cert-manager's release bundle and the ClusterIssuers left out (the bundle cannot be fetched offline); add-on pods are not waited for (their images cannot be pulled offline)",
		"setting", LabSettingsPath)
	return keep
}
