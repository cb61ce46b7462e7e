package cluster

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The API server's metrics as it serves them: HELP and TYPE comments, a
// metric whose name starts with the one read, and one series per storage
// cluster (here two, as with a separate etcd for events).
const apiServerMetrics = `# HELP apiserver_storage_objects Number of stored objects at the time of last check split by kind.
# TYPE apiserver_storage_objects gauge
apiserver_storage_objects{resource="nodes"} 3
# HELP apiserver_storage_size_bytes Size of the storage database file physically allocated in bytes.
# TYPE apiserver_storage_size_bytes gauge
apiserver_storage_size_bytes{storage_cluster_id="etcd-0"} 1.769472e+09
apiserver_storage_size_bytes{storage_cluster_id="etcd-1"} 2.4576e+06
apiserver_storage_size_bytes_extra 9e+12
`

func TestEtcdDBSizeFromTheAPIServersMetrics(t *testing.T) {
	var path string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path = r.URL.Path
		_, _ = w.Write([]byte(apiServerMetrics))
	}))
	defer srv.Close()
	size, found, err := etcdDBSize(context.Background(), srv.Client(), srv.URL+"/")
	if err != nil || !found || size != 1769472000 || path != "/metrics" {
		t.Fatalf("etcdDBSize = %d, %v, %v (path %s); want the largest series, 1769472000", size, found, err, path)
	}

	// Before the API server's first poll of etcd: no series, no error.
	if size, found, err := EtcdDBSizeFromMetrics(strings.NewReader("# TYPE apiserver_storage_size_bytes gauge\n")); err != nil || found || size != 0 {
		t.Errorf("no sample: %d, %v, %v", size, found, err)
	}
	if _, _, err := EtcdDBSizeFromMetrics(strings.NewReader(`apiserver_storage_size_bytes{storage_cluster_id="etcd-0"} many` + "\n")); err == nil {
		t.Error("a sample that is no number was read")
	}
}

func TestEtcdSpaceIsAProblemFromEightyPercentOfTheQuota(t *testing.T) {
	if p := etcdSpaceProblem(1600<<20, 2<<30); p != "" {
		t.Errorf("1600 MiB of 2048: %q, want no problem", p)
	}
	if p := etcdSpaceProblem(1769472000, 3<<30); p != "" {
		t.Errorf("1687 MiB of 3072: %q, want no problem", p)
	}
	r := ValidationResult{Nodes: []NodeState{{Name: "ip-10-0-1-10", Ready: true}}, EtcdDBBytes: 1769472000, EtcdQuotaBytes: 2 << 30, ConfiguredEtcdQuotaBytes: 3 << 30}
	r.evaluate()
	want := `the etcd database is 1687 MiB, 82% of its 2048 MiB quota: at the quota etcd refuses every write; defragment it, or raise controlPlane.etcdQuotaGiB (docs/OPERATIONS.md, "etcd database space")`
	if len(r.Problems) != 1 || r.Problems[0] != want {
		t.Errorf("problems %q, want %q", r.Problems, want)
	}
	got := r.Lines()
	if len(got) < 2 || got[len(got)-2] != "etcd database 1687 MiB of its 2048 MiB quota" ||
		got[len(got)-1] != "etcd quota: the environment sets 3072 MiB, which etcd takes when the control plane is replaced (`kforge roll --control-plane`)" {
		t.Errorf("lines %q", got)
	}
	r.ConfiguredEtcdQuotaBytes = r.EtcdQuotaBytes
	if got := r.Lines(); got[len(got)-1] != "etcd database 1687 MiB of its 2048 MiB quota" {
		t.Errorf("the same quota in the environment and in etcd printed a second line: %q", got)
	}
}

// TestEtcdQuotaIsTheEtcdPods: validate reads the quota off kubeadm's etcd
// static pod, as the API server serves its mirror pod; without the pod it
// takes the environment's.
func TestEtcdQuotaIsTheEtcdPods(t *testing.T) {
	var query string
	pods := `{"kind":"PodList","apiVersion":"v1","items":[{"metadata":{"name":"etcd-ip-10-0-1-10","namespace":"kube-system"},
"spec":{"containers":[{"name":"etcd","image":"registry.k8s.io/etcd:3.6.8-0","command":["etcd","--data-dir=/var/lib/etcd","--quota-backend-bytes=4294967296"]}]}}]}`
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		if r.URL.Path != "/api/v1/namespaces/kube-system/pods" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(pods))
	}))
	defer srv.Close()
	ctx := context.Background()
	running, configured, err := etcdQuotas(ctx, srv.Client(), srv.URL, 2)
	if err != nil || running != 4<<30 || configured != 2<<30 || query != "labelSelector=component%3Detcd" {
		t.Fatalf("quotas %d, %d, %v (query %q); want 4 GiB running and 2 GiB configured", running, configured, err, query)
	}
	pods = `{"kind":"PodList","apiVersion":"v1","items":[]}`
	if running, configured, err = etcdQuotas(ctx, srv.Client(), srv.URL, 3); err != nil || running != 3<<30 || configured != 3<<30 {
		t.Errorf("without the pod: %d, %d, %v; want the environment's 3 GiB", running, configured, err)
	}
}
