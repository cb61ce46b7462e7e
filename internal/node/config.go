// Package node is the agent that runs on every instance: it turns a fresh
// Amazon Linux 2023 machine into a control-plane node or a worker, keeps
// the join material in the certs bucket fresh and backs up the control
// plane's PKI and etcd to the bucket.
package node

import (
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/kforge/kforge/internal/certstore"
)

// Bucket keys (internal/certstore owns the layout).
const (
	JoinKey         = certstore.JoinKey
	PKIBackupKey    = certstore.PKIBackupKey
	EtcdSnapshotKey = certstore.EtcdSnapshotKey
	// SnapshotRequestKey: the last snapshot request served.
	SnapshotRequestKey = certstore.SnapshotRequestKey
	// RestoreFromKey: the history snapshot the next restore takes instead.
	RestoreFromKey    = certstore.RestoreFromKey
	AdminConfKey      = certstore.AdminConfKey
	APIAddressesKey   = certstore.APIAddressesKey
	etcdHistoryPrefix = certstore.EtcdHistoryPrefix
)

// Roles the agent can play.
const (
	RoleController = certstore.RoleController
	RoleWorker     = certstore.RoleWorker
)

// Pool is one worker pool's node settings.
type Pool struct {
	Labels map[string]string `json:"labels"`
	Taints []string          `json:"taints"`
	// Ingress: the pool runs the ingress controller and sits in the NLB
	// target groups. The agent places nothing by it (the node label
	// kforge.io/ingress does that); it is here so the contract stays strict.
	Ingress bool `json:"ingress"`
}

// Cluster is bootstrap/cluster.json, written by the root module.
type Cluster struct {
	ClusterName       string `json:"cluster_name"`
	Environment       string `json:"environment"`
	Region            string `json:"region"`
	Domain            string `json:"domain"`
	APIDNSName        string `json:"api_dns_name"`
	KubernetesVersion string `json:"kubernetes_version"`
	PodCIDR           string `json:"pod_cidr"`
	ServiceCIDR       string `json:"service_cidr"`
	Bucket            string `json:"bucket"`
	KMSKeyARN         string `json:"kms_key_arn"`
	ZoneID            string `json:"zone_id"`
	// APIZoneID is the private zone api.<domain> attached to the VPC, where
	// the control plane publishes its address; empty in a cluster.json
	// written before it existed (then the public zone_id holds the record).
	APIZoneID         string          `json:"api_zone_id,omitempty"`
	EFSID             string          `json:"efs_id"`
	ACMEEmail         string          `json:"acme_email"`
	HTTPNodePort      int32           `json:"http_node_port"`
	HTTPSNodePort     int32           `json:"https_node_port"`
	WorkerPools       map[string]Pool `json:"worker_pools"`
	ControllerASGName string          `json:"controller_asg_name"`
	// BackupIntervalMinutes is kforge-backup.timer's interval; 0 (absent)
	// means DefaultBackupMinutes.
	BackupIntervalMinutes int `json:"backup_interval_minutes"`
	// EtcdQuotaGiB is etcd's backend quota; 0 (absent, an older root
	// module) leaves etcd's default.
	EtcdQuotaGiB int `json:"etcd_quota_gib,omitempty"`
	// NodeEventsQueueURL is the SQS queue EventBridge fills with node
	// lifecycle events, read by kforge-drain-events.service on the control
	// plane; empty (absent) in a cluster without one, and then no drainer runs.
	NodeEventsQueueURL string `json:"node_events_queue_url,omitempty"`
	// LifecycleHookName is the termination lifecycle hook on every worker
	// group, and LifecycleHookHeartbeatSeconds its heartbeat timeout, which
	// bounds the drain of a terminating node.
	LifecycleHookName             string `json:"lifecycle_hook_name,omitempty"`
	LifecycleHookHeartbeatSeconds int    `json:"lifecycle_hook_heartbeat_seconds,omitempty"`
	// WorkerRoleARN is the workers' instance role: the control plane
	// approves a joining kubelet only for a proof signed by a session of it
	// named after the instance (identity.go). Empty in a cluster.json
	// written before it existed; then no worker is approved.
	WorkerRoleARN string `json:"worker_role_arn,omitempty"`
}

// WorkerGroupNames are the Auto Scaling group names of the worker pools
// (the workers module names them <cluster>-<pool>), sorted.
func (c Cluster) WorkerGroupNames() []string {
	var out []string
	for name := range c.WorkerPools {
		out = append(out, c.ClusterName+"-"+name)
	}
	slices.Sort(out)
	return out
}

// APIRecordZone is the hosted zone the api.<domain> record lives in.
func (c Cluster) APIRecordZone() string {
	if c.APIZoneID != "" {
		return c.APIZoneID
	}
	return c.ZoneID
}

var versionPattern = regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+$`)

// ParseCluster decodes and checks cluster.json. Unknown keys are accepted so
// an agent keeps working when the root module adds one; missing or malformed
// required keys are errors naming the key.
func ParseCluster(data []byte) (Cluster, error) {
	var c Cluster
	if err := json.Unmarshal(data, &c); err != nil {
		return Cluster{}, fmt.Errorf("decoding cluster.json: %w", err)
	}
	return c, c.Validate()
}

// Validate reports the first missing or malformed key.
func (c Cluster) Validate() error {
	required := []struct{ key, value string }{
		{"cluster_name", c.ClusterName}, {"region", c.Region}, {"domain", c.Domain},
		{"api_dns_name", c.APIDNSName}, {"kubernetes_version", c.KubernetesVersion},
		{"bucket", c.Bucket}, {"kms_key_arn", c.KMSKeyARN}, {"zone_id", c.ZoneID},
		{"acme_email", c.ACMEEmail},
	}
	for _, r := range required {
		if strings.TrimSpace(r.value) == "" {
			return fmt.Errorf("cluster.json: %s is empty", r.key)
		}
	}
	if !versionPattern.MatchString(c.KubernetesVersion) {
		return fmt.Errorf("cluster.json: kubernetes_version %q is not MAJOR.MINOR.PATCH", c.KubernetesVersion)
	}
	for key, cidr := range map[string]string{"pod_cidr": c.PodCIDR, "service_cidr": c.ServiceCIDR} {
		if _, _, err := net.ParseCIDR(cidr); err != nil {
			return fmt.Errorf("cluster.json: %s %q is not a CIDR", key, cidr)
		}
	}
	for key, port := range map[string]int32{"http_node_port": c.HTTPNodePort, "https_node_port": c.HTTPSNodePort} {
		if port < 30000 || port > 32767 {
			return fmt.Errorf("cluster.json: %s %d is outside the NodePort range 30000-32767", key, port)
		}
	}
	// kforge's own bounds on a setting (the backup interval, the etcd quota)
	// are checked where the setting is used, not here: every running agent
	// reads the cluster.json the newest kforge wrote, and a later release
	// that widens a bound must not stop an older agent's backups, tokens and
	// drains over a value only the control plane's init reads.
	//
	// Auto Scaling's limits for a heartbeat timeout; 0 is absent.
	if s := c.LifecycleHookHeartbeatSeconds; s != 0 && (s < 30 || s > 7200) {
		return fmt.Errorf("cluster.json: lifecycle_hook_heartbeat_seconds %d is outside 30-7200", s)
	}
	if c.NodeEventsQueueURL != "" && c.LifecycleHookName == "" {
		return fmt.Errorf("cluster.json: node_events_queue_url is set but lifecycle_hook_name is empty")
	}
	return nil
}

// Minor returns MAJOR.MINOR of the Kubernetes version, for the package
// repository and for add-on version tables.
func (c Cluster) Minor() string {
	v, err := version.NewSemver(c.KubernetesVersion)
	if err != nil {
		return ""
	}
	s := v.Segments()
	return fmt.Sprintf("%d.%d", s[0], s[1])
}
