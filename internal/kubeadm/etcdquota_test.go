package kubeadm

import (
	"strings"
	"testing"
)

// TestEtcdQuotaFromCommand reads the quota off etcd's command line as
// kubeadm writes it, and etcd's default where the flag is absent.
func TestEtcdQuotaFromCommand(t *testing.T) {
	cases := []struct {
		command []string
		want    int64
		err     string
	}{
		{[]string{"etcd", "--data-dir=/var/lib/etcd", "--quota-backend-bytes=4294967296"}, 4 << 30, ""},
		{[]string{"etcd", "--data-dir=/var/lib/etcd"}, 2 << 30, ""},
		{[]string{"etcd", "--quota-backend-bytes=lots"}, 0, `"--quota-backend-bytes=lots" is not`},
		{[]string{"etcd", "--quota-backend-bytes=-1"}, 0, "not a positive number"},
	}
	for _, tc := range cases {
		got, err := EtcdQuotaFromCommand(tc.command)
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%v: error %v, want one with %q", tc.command, err, tc.err)
		case tc.err == "" && (err != nil || got != tc.want):
			t.Errorf("%v: %d, %v; want %d", tc.command, got, err, tc.want)
		}
	}
}

// TestEtcdQuotaRendersAsKubeadmPassesIt: the quota reaches etcd's extra
// arguments in bytes, and a cluster.json without one leaves them out.
func TestEtcdQuotaRendersAsKubeadmPassesIt(t *testing.T) {
	c := controlPlane()
	c.EtcdQuotaGiB = 3
	out, err := RenderControlPlane(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "- name: quota-backend-bytes\n      value: \"3221225472\"") {
		t.Errorf("quota of 3 GiB not rendered:\n%s", out)
	}
	c.EtcdQuotaGiB = 0
	if out, err = RenderControlPlane(c); err != nil || strings.Contains(string(out), "quota-backend-bytes") {
		t.Errorf("no quota rendered a flag (%v):\n%s", err, out)
	}
}
