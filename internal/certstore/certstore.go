// Package certstore owns the layout of a cluster's certs bucket: its
// prefixes, the keys under them, and which node role may read or write
// each. The Terraform root module (its locals and the lifecycle rule), the
// node roles' IAM policies, the node agent and the CLI are checked against
// it by this package's tests, so that none of them spells a key its own way.
package certstore

import "strings"

// Roles that read and write the bucket.
const (
	RoleController = "controller"
	RoleWorker     = "worker"
)

// Prefixes of the bucket.
const (
	// Bootstrap holds what Terraform uploads for the nodes to start from:
	// the cluster configuration and the agent binaries. Nodes only read it.
	Bootstrap = "bootstrap/"
	// Controller holds the control plane's backups (PKI, etcd, admin
	// kubeconfig) and its published API addresses. Only the control plane
	// reads or writes it (and an administrator, with their own credentials).
	Controller = "controller/"
	// Workers holds the join material the control plane writes and workers read.
	Workers = "workers/"
)

// Keys.
const (
	// ConfigKey is the cluster configuration the root module writes
	// (node.Cluster).
	ConfigKey = Bootstrap + "cluster.json"
	// AgentKeyPrefix is the agent binary's key without its "-<arch>" suffix.
	AgentKeyPrefix = Bootstrap + "kforge-node"
	// JoinKey is the bootstrap token and CA hash workers join with.
	JoinKey = Workers + "join.json"
	// PKIBackupKey is the control plane's PKI archive.
	PKIBackupKey = Controller + "pki.tar.gz"
	// EtcdSnapshotKey is the latest etcd snapshot.
	EtcdSnapshotKey = Controller + "etcd/latest.db"
	// EtcdHistoryPrefix holds every backup's etcd snapshot, expired by the
	// bucket's lifecycle rule.
	EtcdHistoryPrefix = Controller + "etcd/history/"
	// AdminConfKey is the admin kubeconfig `kforge kubeconfig` fetches.
	AdminConfKey = Controller + "admin.conf"
	// SnapshotRequestKey holds the id of the last snapshot request the
	// control plane served (`kforge roll --control-plane`): written after
	// the snapshot it took for it was uploaded.
	SnapshotRequestKey = Controller + "etcd/snapshot-request"
	// RestoreFromKey names the history snapshot (a key under
	// EtcdHistoryPrefix) that the next control plane restores instead of
	// the latest one. An operator writes it to go back in time; the control
	// plane deletes it once it has restored that snapshot, so that the
	// running control plane's own backups, which go on replacing
	// EtcdSnapshotKey until it is gone, cannot take its place.
	RestoreFromKey = Controller + "etcd/restore-from"
	// APIAddressesKey is the control plane's private and public address.
	APIAddressesKey = Controller + "api-addresses.json"
)

// IsHistorySnapshot tells whether key names a snapshot of the history, the
// only keys RestoreFromKey may name: EtcdHistoryPrefix and a name without
// a slash or white space (the backups name them after their time).
func IsHistorySnapshot(key string) bool {
	name, ok := strings.CutPrefix(key, EtcdHistoryPrefix)
	return ok && name != "" && !strings.ContainsAny(name, "/ \t\r\n")
}

// Access says who may do what under one prefix.
type Access struct {
	Prefix string
	// Read and Write list the node roles allowed; Terraform writes
	// bootstrap/ with the caller's credentials, not a node role.
	Read, Write []string
}

// Layout is the bucket's access table, the contract the node roles' IAM
// policies implement.
var Layout = []Access{
	{Prefix: Bootstrap, Read: []string{RoleController, RoleWorker}},
	{Prefix: Controller, Read: []string{RoleController}, Write: []string{RoleController}},
	{Prefix: Workers, Read: []string{RoleController, RoleWorker}, Write: []string{RoleController}},
}

// Keys lists every fixed key and key prefix of the bucket.
var Keys = []string{ConfigKey, AgentKeyPrefix, JoinKey, PKIBackupKey, EtcdSnapshotKey, EtcdHistoryPrefix, RestoreFromKey, AdminConfKey, APIAddressesKey}

// PrefixOf returns the layout entry a key falls under.
func PrefixOf(key string) (Access, bool) {
	for _, a := range Layout {
		if strings.HasPrefix(key, a.Prefix) {
			return a, true
		}
	}
	return Access{}, false
}

// CanRead reports whether a node role may read key.
func CanRead(role, key string) bool {
	a, ok := PrefixOf(key)
	return ok && has(a.Read, role)
}

// CanWrite reports whether a node role may write (and delete) key.
func CanWrite(role, key string) bool {
	a, ok := PrefixOf(key)
	return ok && has(a.Write, role)
}

func has(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
