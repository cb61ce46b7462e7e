package node

import (
	"fmt"

	"github.com/kforge/kforge/internal/kubeadm"
)

// etcdQuotaGiB is the quota kubeadm init gives etcd: cluster.json's
// (etcd's default when it names none). A restored database the quota
// would not hold gets a larger one: etcd would otherwise raise NOSPACE on
// its first write and the replacement control plane would serve a cluster
// nobody can change. That happens when an environment lowers its quota
// below what its database already holds and the control plane is then
// replaced (a roll refuses that; a lost instance does not ask). The quota
// is raised to the next whole GiB above the database, plus one GiB of room,
// and the agent says so: the operator's fix is the setting, or a defrag.
func (a *Agent) etcdQuotaGiB(restored bool) (int, error) {
	quota := a.Cluster.EtcdQuotaGiB
	// Checked here, where kubeadm init uses it, rather than when
	// cluster.json is read (Cluster.Validate says why).
	if err := kubeadm.CheckEtcdQuotaGiB(quota); err != nil {
		return 0, fmt.Errorf("cluster.json: etcd_quota_gib: %w: this agent cannot configure it; a later kforge release wrote it, so replace the control plane with that release's agent (kforge up, then kforge roll --control-plane)", err)
	}
	if !restored {
		return quota, nil
	}
	size, err := fileSize(a.Host, etcdDB)
	if err != nil {
		return 0, err
	}
	if kubeadm.EtcdQuotaHolds(quota, size) {
		return quota, nil
	}
	configured := max(quota, kubeadm.DefaultEtcdQuotaGiB)
	raised := int((size+(1<<30)-1)>>30) + 1
	a.logger().Warn("the restored etcd database does not fit the configured quota: etcd gets a larger one so that it takes writes; "+
		"set controlPlane.etcdQuotaGiB to at least this, or defragment and replace the control plane (docs/OPERATIONS.md, \"etcd database space\")",
		"database_bytes", size, "configured_gib", configured, "quota_gib", raised)
	return raised, nil
}
