package node

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// The control plane's agent upgrades to cluster.json's version: snapshot
// first, then the new kubeadm, kubeadm upgrade apply, the kubelet; nothing
// when the versions agree; a downgrade or a skipped minor changes nothing.
func TestUpgradeControlPlane(t *testing.T) {
	c := newCloud(t)
	ctx := context.Background()
	h := newRecorder(t, "controller")
	a := c.controller(h, "10.0.1.10", "i-0aaaaaaaaaaaaaaaa", fixedClock(t0))
	a.Cluster.KubernetesVersion = "1.35.10"
	if err := a.Bootstrap(ctx); err != nil {
		t.Fatal(err)
	}
	if v, err := a.runningControlPlaneVersion(); err != nil || v != "1.35.10" {
		t.Fatalf("after the bootstrap the control plane runs %q (%v), want 1.35.10", v, err)
	}
	before := len(h.commands())
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(h.commands()) - before; n != 0 {
		t.Errorf("same version: %d commands run, want none: %v", n, h.commands()[before:])
	}

	// kforge upgrade wrote 1.36.6 into cluster.json.
	a.Cluster.KubernetesVersion = "1.36.6"
	a.Now = fixedClock(t0.Add(time.Hour))
	mark := len(h.log)
	if err := a.UpgradeControlPlane(ctx); err != nil {
		t.Fatal(err)
	}
	h.assertOrder(t,
		"kubectl --kubeconfig /etc/kubernetes/admin.conf -n kube-system exec etcd-ip-10-0-1-10.eu-west-1.compute.internal",
		"dnf install -y --disableexcludes=kubernetes kubeadm-1.36.6",
		"kubeadm upgrade apply v1.36.6 --yes",
		"dnf install -y --disableexcludes=kubernetes kubelet-1.36.6 kubectl-1.36.6",
		"systemctl restart kubelet",
	)
	if !strings.Contains(strings.Join(h.log[mark:], "\n"), "write /etc/yum.repos.d/kubernetes.repo") || !strings.Contains(h.file("/etc/yum.repos.d/kubernetes.repo"), "/core:/stable:/v1.36/rpm/") {
		t.Errorf("the package repository was not moved to 1.36: %q", h.file("/etc/yum.repos.d/kubernetes.repo"))
	}
	if v, _ := a.runningControlPlaneVersion(); v != "1.36.6" {
		t.Errorf("after the upgrade the control plane runs %q, want 1.36.6", v)
	}
	// The snapshot went to the bucket before kubeadm ran: its key is there.
	if _, err := c.bucket.Get(ctx, EtcdSnapshotKey); err != nil {
		t.Errorf("no etcd snapshot in the bucket: %v", err)
	}

	// Idempotent, and refusing what kubeadm cannot do.
	for _, v := range []string{"1.36.6", "1.35.10", "1.38.0"} {
		a.Cluster.KubernetesVersion = v
		before := len(h.commands())
		err := a.UpgradeControlPlane(ctx)
		if v == "1.36.6" && err != nil || v != "1.36.6" && !errors.Is(err, errUnsupportedStep) {
			t.Errorf("cluster.json %s, control plane 1.36.6: %v", v, err)
		}
		if n := len(h.commands()) - before; n != 0 {
			t.Errorf("cluster.json %s: %d commands run, want none: %v", v, n, h.commands()[before:])
		}
	}
}
