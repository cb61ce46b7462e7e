// Package sweep finds, through the AWS API, the resources that belong to a
// kforge cluster and deletes them in dependency order. The cluster tag
// (kforge.io/cluster=<name>, set by the provider's default_tags) is the
// source of truth, as in kOps; kinds that AWS or the emulator list without
// tags are matched by a name starting with "<cluster>-" or by living in a
// VPC of the cluster.
//
// kforge uses it twice: before planning, to remove what a killed apply
// created but never recorded in the Terraform state (orphans), so that a
// re-run converges; and after `terraform destroy`, to remove what the state
// never held (instances of an ASG, their volumes and network interfaces).
//
// Each resource kind is one entry of a registry (registry.go): how to list
// it, how to delete one, and which kinds must be gone first. The entries
// live with their AWS service, one file per service.
package sweep

import (
	"strings"
)

// ClusterTag is the tag key every kforge resource carries.
const ClusterTag = "kforge.io/cluster"

// EnvironmentTag names the environment (envs/<env>.yaml) a resource was
// made for; every kforge resource carries it with ClusterTag.
const EnvironmentTag = "kforge.io/environment"

// Resource is one AWS resource of a cluster.
type Resource struct {
	Kind string `json:"kind"`
	// ID is what the delete call takes (and what Terraform's id attribute
	// holds for most kinds): vpc-..., a role name, a bucket name, a zone id.
	ID   string `json:"id"`
	ARN  string `json:"arn,omitempty"`
	Name string `json:"name,omitempty"`
	// Parent is the resource this one lives in or was made by: the VPC of
	// a subnet, the ASG of an instance, the owner of an ENI (instance,
	// load balancer ARN or file system), the zone of a record.
	Parent string `json:"parent,omitempty"`
	// Why says how it was matched: the tag, its name, its VPC.
	Why string `json:"why,omitempty"`
}

func (r Resource) String() string {
	s := r.Kind + " " + r.ID
	if r.Name != "" && r.Name != r.ID {
		s += " (" + r.Name + ")"
	}
	return s
}

// Target names the cluster whose resources to find.
type Target struct {
	// Cluster is the cluster name (the value of ClusterTag).
	Cluster string
	// GroupNames are the names the cluster's launch templates and Auto
	// Scaling groups take (<cluster>-<pool>, <cluster>-controller): one
	// that another owner already has makes List fail with *NamesTaken.
	// Empty: not checked (down's sweep).
	GroupNames []string
	// Environment is the environment listing: resources of Cluster tagged
	// for another environment make List fail with an
	// *EnvironmentConflict. Empty: the environment tag is not read.
	Environment string
	// Endpoint is an emulator endpoint (S3 path style); empty on AWS.
	Endpoint string
	// KeepBuckets are never listed (the Terraform state bucket).
	KeepBuckets []string
	// RecordNames are the names of the A records Terraform manages in the
	// cluster's zones (the domain, *.domain, api.domain): such a record
	// missing from the state is an orphan (it would make the next create
	// fail). Records of other names or types (an MX at the apex) are their
	// zone's users', listed with the zone as Parent.
	RecordNames []string
}

// goneState reports the states in which a resource is as good as deleted;
// AWS spells them Deleted, moto deleted.
func goneState(state string) bool {
	switch strings.ToLower(state) {
	case "deleted", "deleting", "terminated", "shutting-down", "failed", "rejected", "expired":
		return true
	}
	return false
}
