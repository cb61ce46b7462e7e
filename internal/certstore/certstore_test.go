package certstore_test

import (
	"encoding/json"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kforge/kforge/internal/certstore"
	"github.com/kforge/kforge/internal/node"
)

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", filepath.FromSlash(rel)))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestEveryKeyHasAnOwner(t *testing.T) {
	for _, k := range certstore.Keys {
		if _, ok := certstore.PrefixOf(k); !ok {
			t.Errorf("key %s lies under no prefix of the layout", k)
		}
	}
	if !certstore.CanRead(certstore.RoleWorker, certstore.JoinKey) || certstore.CanWrite(certstore.RoleWorker, certstore.JoinKey) {
		t.Error("workers read the join material and never write it")
	}
	if certstore.CanRead(certstore.RoleWorker, certstore.PKIBackupKey) {
		t.Error("a worker must not read the control plane's PKI")
	}
}

// The node agent speaks of the same keys and roles.
func TestNodeAgentUsesTheLayout(t *testing.T) {
	pairs := map[string]string{
		node.JoinKey: certstore.JoinKey, node.PKIBackupKey: certstore.PKIBackupKey, node.EtcdSnapshotKey: certstore.EtcdSnapshotKey,
		node.AdminConfKey: certstore.AdminConfKey, node.APIAddressesKey: certstore.APIAddressesKey, node.RestoreFromKey: certstore.RestoreFromKey,
		node.RoleController: certstore.RoleController, node.RoleWorker: certstore.RoleWorker,
	}
	for got, want := range pairs {
		if got != want {
			t.Errorf("node agent has %q where the layout has %q", got, want)
		}
	}
}

// The root module writes the configuration and the agents where the layout
// says, and the bucket expires the etcd history under its prefix.
func TestTerraformUsesTheLayout(t *testing.T) {
	locals := repoFile(t, "terraform/cluster/locals.tf")
	for name, want := range map[string]string{"config_key": certstore.ConfigKey, "agent_key": certstore.AgentKeyPrefix} {
		m := regexp.MustCompile(`(?m)^\s*` + name + `\s*=\s*"([^"]+)"`).FindStringSubmatch(locals)
		if m == nil || m[1] != want {
			t.Errorf("terraform/cluster/locals.tf: %s = %v, want %q", name, m, want)
		}
	}
	bucket := repoFile(t, "terraform/modules/buckets/bucket.tf")
	if !strings.Contains(bucket, `prefix = "`+certstore.EtcdHistoryPrefix+`"`) {
		t.Errorf("terraform/modules/buckets/bucket.tf: no lifecycle rule on %s", certstore.EtcdHistoryPrefix)
	}
	// The rule removing the snapshots' noncurrent versions covers the latest
	// snapshot and the history alike.
	etcd := path.Dir(certstore.EtcdSnapshotKey) + "/"
	if !strings.HasPrefix(certstore.EtcdHistoryPrefix, etcd) || !strings.Contains(bucket, `prefix = "`+etcd+`"`) {
		t.Errorf("terraform/modules/buckets/bucket.tf: no lifecycle rule on %s, covering %s and %s", etcd, certstore.EtcdSnapshotKey, certstore.EtcdHistoryPrefix)
	}
}

// The node roles' rendered IAM policies (the golden documents the
// terraform end-to-end test compares with the applied ones) grant each role
// exactly the layout's reads and writes on object keys.
func TestIAMPoliciesImplementTheLayout(t *testing.T) {
	for _, role := range []string{certstore.RoleController, certstore.RoleWorker} {
		var doc struct {
			Statement []struct {
				Action   []string
				Resource []string
			}
		}
		if err := json.Unmarshal([]byte(repoFile(t, "test/e2e/terraform/testdata/iam/"+role+".json")), &doc); err != nil {
			t.Fatal(err)
		}
		granted := map[string][]string{} // action -> prefixes
		for _, st := range doc.Statement {
			for _, a := range st.Action {
				if a != "s3:GetObject" && a != "s3:PutObject" && a != "s3:DeleteObject" && a != "s3:AbortMultipartUpload" {
					continue
				}
				for _, r := range st.Resource {
					_, obj, ok := strings.Cut(r, "/")
					if !ok || !strings.HasSuffix(obj, "*") {
						t.Errorf("%s: %s on %s: want a prefix ending in *", role, a, r)
						continue
					}
					granted[a] = append(granted[a], strings.TrimSuffix(obj, "*"))
				}
			}
		}
		var reads, writes []string
		for _, acc := range certstore.Layout {
			if slices.Contains(acc.Read, role) {
				reads = append(reads, acc.Prefix)
			}
			if slices.Contains(acc.Write, role) {
				writes = append(writes, acc.Prefix)
			}
		}
		for action, want := range map[string][]string{"s3:GetObject": reads, "s3:PutObject": writes, "s3:DeleteObject": writes, "s3:AbortMultipartUpload": writes} {
			got := slices.Sorted(slices.Values(granted[action]))
			if !slices.Equal(got, slices.Sorted(slices.Values(want))) {
				t.Errorf("%s role: %s on %v, the layout says %v", role, action, got, want)
			}
		}
	}
}

// TestIsHistorySnapshot: a restore request, and --restore-snapshot, may
// name only a snapshot of the history; the latest snapshot, other keys of
// the bucket and nested or blank names are refused.
func TestIsHistorySnapshot(t *testing.T) {
	for key, want := range map[string]bool{
		certstore.EtcdHistoryPrefix + "20261130T080000Z.db":  true,
		certstore.EtcdHistoryPrefix + "before-upgrade.db":    true,
		certstore.EtcdHistoryPrefix:                          false,
		certstore.EtcdHistoryPrefix + "a/b.db":               false,
		certstore.EtcdHistoryPrefix + "20261130T080000Z.db ": false,
		certstore.EtcdHistoryPrefix + "x\n.db":               false,
		certstore.EtcdSnapshotKey:                            false,
		certstore.JoinKey:                                    false,
		"20261130T080000Z.db":                                false,
	} {
		if got := certstore.IsHistorySnapshot(key); got != want {
			t.Errorf("IsHistorySnapshot(%q) = %v, want %v", key, got, want)
		}
	}
}

// TestKeysRunningAgentsReadAreFrozen: every running node agent, of every
// release, reads and writes these keys by name, and a versioned object
// deleted (a key changed in Terraform) loses every version. A new release
// that moves one strands the agents already running; it has to write the
// new key beside the old one instead, and this list only grows.
func TestKeysRunningAgentsReadAreFrozen(t *testing.T) {
	for got, want := range map[string]string{
		certstore.ConfigKey:          "bootstrap/cluster.json",
		certstore.AgentKeyPrefix:     "bootstrap/kforge-node",
		certstore.JoinKey:            "workers/join.json",
		certstore.PKIBackupKey:       "controller/pki.tar.gz",
		certstore.EtcdSnapshotKey:    "controller/etcd/latest.db",
		certstore.EtcdHistoryPrefix:  "controller/etcd/history/",
		certstore.AdminConfKey:       "controller/admin.conf",
		certstore.SnapshotRequestKey: "controller/etcd/snapshot-request",
		certstore.RestoreFromKey:     "controller/etcd/restore-from",
		certstore.APIAddressesKey:    "controller/api-addresses.json",
	} {
		if got != want {
			t.Errorf("key %q is now %q: running agents of earlier releases read %q", want, got, want)
		}
	}
}
