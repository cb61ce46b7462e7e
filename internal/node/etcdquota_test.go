package node

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
)

// zeros reads as zero bytes: a file of any size without its content.
type zeros struct{}

func (zeros) ReadAt(p []byte, _ int64) (int, error) { clear(p); return len(p), nil }

// etcdDBOfSize is a host whose etcd database has size bytes. It serves the
// database only through Open: reading it whole fails the test, since on a
// control plane it is up to the quota's size.
type etcdDBOfSize struct {
	*recorder
	size int64
}

func (h etcdDBOfSize) Open(path string) (io.ReadSeekCloser, error) {
	if path == etcdDB && h.size > 0 {
		return readSeekNopCloser{io.NewSectionReader(zeros{}, 0, h.size)}, nil
	}
	return h.recorder.Open(path)
}

func (h etcdDBOfSize) ReadFile(path string) ([]byte, error) {
	if path == etcdDB {
		h.t.Errorf("%s read whole", etcdDB)
	}
	return h.recorder.ReadFile(path)
}

// TestRestoredDatabaseGetsAQuotaThatHoldsIt: kubeadm init gives etcd
// cluster.json's quota unless the restored database would not fit it; then
// the next whole GiB above the database plus one, with a warning.
func TestRestoredDatabaseGetsAQuotaThatHoldsIt(t *testing.T) {
	const gib = int64(1) << 30
	cases := []struct {
		name       string
		configured int
		db         int64 // 0: no restored database
		want       int
		warned     bool
	}{
		{"a new cluster", 3, 0, 3, false},
		{"a database well under the quota", 2, gib, 2, false},
		{"a database just under the quota", 2, 2*gib - 1, 2, false},
		{"a database at the quota", 2, 2 * gib, 3, true},
		{"a quota lowered below the database", 2, 5 * gib / 2, 4, true},
		{"no quota in an older cluster.json, a small database", 0, gib, 0, false},
		{"no quota in an older cluster.json, a database past etcd's default", 0, 3 * gib, 4, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h := etcdDBOfSize{recorder: newRecorder(t, "cp"), size: tc.db}
			var logs bytes.Buffer
			a := &Agent{Host: h, Cluster: Cluster{EtcdQuotaGiB: tc.configured}, Log: slog.New(slog.NewTextHandler(&logs, nil))}
			restored := Exists(a.Host, etcdDB)
			if restored != (tc.db > 0) {
				t.Fatalf("Exists(%s) = %v with a database of %d bytes", etcdDB, restored, tc.db)
			}
			got, err := a.etcdQuotaGiB(restored)
			if err != nil || got != tc.want {
				t.Fatalf("quota %d GiB (%v), want %d", got, err, tc.want)
			}
			if warned := strings.Contains(logs.String(), "does not fit the configured quota"); warned != tc.warned {
				t.Errorf("warned=%v, want %v: %s", warned, tc.warned, logs.String())
			}
		})
	}
}
