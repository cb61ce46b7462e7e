package node

import (
	"os"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/addons"
)

// testdata/cluster.json has the keys the root module's bootstrap.tf writes
// (jsonencode of local.cluster_config), plus one the agent does not know.
func TestParseClusterFromRootModuleShape(t *testing.T) {
	raw, err := os.ReadFile("testdata/cluster.json")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCluster(raw)
	if err != nil {
		t.Fatal(err)
	}
	if c.Minor() != "1.36" || c.WorkerPools["general"].Labels["tier"] != "apps" || c.HTTPSNodePort != 30443 {
		t.Errorf("decoded %+v", c)
	}
	// Everything the control plane renders from it must render.
	a := &Agent{Cluster: c}
	if _, err := addons.Render(a.addonConfig()); err != nil {
		t.Errorf("add-ons do not render from cluster.json: %v", err)
	}
}

func TestParseClusterNamesTheBadKey(t *testing.T) {
	cases := []struct {
		key   string
		value any
	}{
		{"cluster_name", ""},
		{"kubernetes_version", "v1.36.6"},
		{"kubernetes_version", "1.36"},
		{"pod_cidr", "10.244.0.0"},
		{"https_node_port", 443},
		{"kms_key_arn", ""},
		{"zone_id", ""},
		{"lifecycle_hook_heartbeat_seconds", 20},
		{"lifecycle_hook_heartbeat_seconds", 7201},
		{"lifecycle_hook_name", ""},
	}
	for _, tc := range cases {
		t.Run(tc.key, func(t *testing.T) {
			_, err := ParseCluster(clusterJSONWith(t, map[string]any{tc.key: tc.value}))
			if err == nil || !strings.Contains(err.Error(), tc.key) {
				t.Fatalf("want an error naming %s, got %v", tc.key, err)
			}
		})
	}
	if _, err := ParseCluster([]byte("{not json")); err == nil {
		t.Fatal("malformed JSON accepted")
	}
}

// The API record goes to the private zone when cluster.json names one, and
// to the public zone for a cluster.json written before it existed.
func TestAPIRecordZone(t *testing.T) {
	if got := (Cluster{ZoneID: "ZPUBLIC", APIZoneID: "ZPRIVATE"}).APIRecordZone(); got != "ZPRIVATE" {
		t.Errorf("APIRecordZone = %q, want the private zone", got)
	}
	if got := (Cluster{ZoneID: "ZPUBLIC"}).APIRecordZone(); got != "ZPUBLIC" {
		t.Errorf("APIRecordZone without api_zone_id = %q, want the public zone", got)
	}
}

func TestWorkerGroupNames(t *testing.T) {
	c := Cluster{ClusterName: "demo", WorkerPools: map[string]Pool{"system": {}, "general": {}}}
	if got := strings.Join(c.WorkerGroupNames(), " "); got != "demo-general demo-system" {
		t.Errorf("WorkerGroupNames = %q", got)
	}
}
