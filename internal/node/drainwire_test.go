package node

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// The drainer's groups are the worker pools of cluster.json in the certs
// bucket: read at its start, and again, through the same wiring, after an
// up rewrote it with a pool more.
func TestDrainerReadsTheGroupsOfTheCurrentClusterJSON(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	const key = "bootstrap/cluster.json"
	publish := func(pools ...string) {
		t.Helper()
		cl := c.cluster()
		cl.NodeEventsQueueURL, cl.LifecycleHookName = c.url+"/123456789012/demo-node-events", "kforge-drain"
		cl.WorkerPools = map[string]Pool{}
		for _, p := range pools {
			cl.WorkerPools[p] = Pool{Labels: map[string]string{}, Taints: []string{}}
		}
		raw, err := json.Marshal(cl)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.bucket.Put(ctx, key, raw); err != nil {
			t.Fatal(err)
		}
	}
	publish("general")
	kubeconfig := filepath.Join(t.TempDir(), "admin.conf")
	if err := os.WriteFile(kubeconfig, []byte("apiVersion: v1\nkind: Config\nclusters:\n- name: demo\n  cluster:\n    server: https://127.0.0.1:1\ncontexts:\n- name: demo\n  context:\n    cluster: demo\n    user: admin\ncurrent-context: demo\nusers:\n- name: admin\n  user: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	w := Wiring{Options: Options{Role: RoleController, Bucket: c.bucket.Name, ConfigKey: key, Region: region}, Endpoint: c.url,
		Host: newRecorder(t, "controller"), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	d, err := NewDrainer(ctx, w, kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"demo-general"}; !slices.Equal(d.Handler.Groups, want) {
		t.Fatalf("groups at the start %v, want %v", d.Handler.Groups, want)
	}
	publish("batch", "general")
	got, err := d.Handler.ReloadGroups(ctx)
	if want := []string{"demo-batch", "demo-general"}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("groups read again %v (%v), want %v", got, err, want)
	}
}
