package terraform

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kforge/kforge/internal/addons"
	"github.com/kforge/kforge/internal/cni"
	"github.com/kforge/kforge/internal/config"
)

// peerPort is a port Cilium's agents reach each other on.
type peerPort struct {
	protocol string
	port     int32
	why      string
}

// ciliumPeerPorts derives, from the vendored chart rendered with kforge's
// values, the ports Cilium's agents use between nodes: the overlay's (VXLAN
// 8472 or Geneve 6081 unless tunnel-port says otherwise) and the health
// checks' (4240 unless cluster-health-port says otherwise). The two sides of the overlay, the chart's
// values and the node groups' rules, are pinned by tests of their own;
// this ties them, so that changing either alone fails.
func ciliumPeerPorts(t *testing.T) []peerPort {
	t.Helper()
	versions := config.SupportedKubernetesVersions()
	values := addons.CiliumValues(addons.Config{ClusterName: "e2e", APIHost: "api.e2e.example.com", PodCIDR: "10.244.0.0/16"})
	manifest, err := cni.Render(values, versions[len(versions)-1].LatestPatch)
	if err != nil {
		t.Fatal(err)
	}
	var data map[string]string
	dec := utilyaml.NewYAMLOrJSONDecoder(strings.NewReader(manifest), 4096)
	for {
		var cm corev1.ConfigMap
		if err := dec.Decode(&cm); err != nil {
			break
		}
		if cm.Kind == "ConfigMap" && cm.Name == "cilium-config" {
			data = cm.Data
		}
	}
	if data == nil {
		t.Fatal("the rendered chart has no cilium-config ConfigMap")
	}
	var ports []peerPort
	if data["routing-mode"] == "tunnel" {
		// Cilium's defaults (pkg/defaults: TunnelPortVXLAN, TunnelPortGeneve)
		// when tunnel-port is 0 or unset.
		port := map[string]int32{"vxlan": 8472, "geneve": 6081}[data["tunnel-protocol"]]
		if p, err := strconv.Atoi(data["tunnel-port"]); err == nil && p != 0 {
			port = int32(p)
		}
		if port == 0 {
			t.Fatalf("unknown tunnel protocol %q in cilium-config", data["tunnel-protocol"])
		}
		ports = append(ports, peerPort{"udp", port, "Cilium's " + data["tunnel-protocol"] + " overlay"})
	}
	if data["enable-health-checking"] != "false" {
		// Cilium's default (pkg/defaults: ClusterHealthPort) unless the
		// chart sets cluster-health-port.
		port := 4240
		if v, set := data["cluster-health-port"]; set {
			p, err := strconv.Atoi(v)
			if err != nil {
				t.Fatalf("cluster-health-port %q in cilium-config: %v", v, err)
			}
			port = p
		}
		ports = append(ports, peerPort{"tcp", int32(port), "Cilium's health checks"})
	}
	if len(ports) == 0 {
		t.Fatal("cilium-config names no port between nodes; the check would prove nothing")
	}
	return ports
}

// checkCiliumPorts: every node group admits the ports Cilium's agents use
// from itself and from the other group, as applied.
func checkCiliumPorts(t *testing.T, ctx context.Context, c *clients, v clusterVars, out outputs) {
	byName := vpcSecurityGroups(t, ctx, c, out)
	nodes := []string{v.ClusterName + "-controller", v.ClusterName + "-workers"}
	for _, p := range ciliumPeerPorts(t) {
		for _, to := range nodes {
			for _, from := range nodes {
				if !admits(byName[to], p, aws.ToString(byName[from].GroupId)) {
					t.Errorf("group %s does not admit %s/%d (%s) from %s", to, p.protocol, p.port, p.why, from)
				}
			}
		}
	}
}

// admits reports whether g has an ingress permission for p from the group
// fromID.
func admits(g ec2types.SecurityGroup, p peerPort, fromID string) bool {
	for _, perm := range g.IpPermissions {
		if aws.ToString(perm.IpProtocol) != p.protocol || aws.ToInt32(perm.FromPort) > p.port || aws.ToInt32(perm.ToPort) < p.port {
			continue
		}
		for _, pair := range perm.UserIdGroupPairs {
			if aws.ToString(pair.GroupId) == fromID {
				return true
			}
		}
	}
	return false
}
