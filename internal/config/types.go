// Package config loads, defaults and validates a kforge cluster configuration
// (envs/<env>.yaml) and renders it into the root Terraform module's variables.
//
// Every problem found in a file is reported at once, each with the file, the
// line, the field path (for example workerPools.general.max), what is wrong and
// how to fix it, so a user can correct a file in one pass and kforge never
// reaches the cloud with an invalid configuration.
package config

import "strings"

// Cluster is one environment's cluster configuration after the base file has
// been merged in and defaults have been filled in. YAML keys are camelCase;
// the yaml tags below are the only key names accepted.
type Cluster struct {
	// Base names a shared file (relative to this file) merged under this one;
	// values in this file win. Only the environment file may name a base.
	Base string `yaml:"base"`

	// Name of the cluster: prefixes every AWS resource name.
	Name string `yaml:"name"`
	// Environment this cluster belongs to (defaults to the file's base name).
	Environment string `yaml:"environment"`
	// Region is the AWS region of every resource.
	Region string `yaml:"region"`
	// Emulator is true when the environment targets the local AWS emulator
	// (moto_server) instead of AWS. Not a Terraform input.
	Emulator bool `yaml:"emulator"`

	State        State                 `yaml:"state"`
	Network      Network               `yaml:"network"`
	DNS          `yaml:"dns"`          // embedded so c.Domain and c.DNS.Domain both read the domain
	Kubernetes   Kubernetes            `yaml:"kubernetes"`
	Ingress      Ingress               `yaml:"ingress"`
	ControlPlane ControlPlane          `yaml:"controlPlane"`
	AMIID        string                `yaml:"amiID"`
	WorkerPools  map[string]WorkerPool `yaml:"workerPools"`
	Tags         map[string]string     `yaml:"tags"`
	// CertsBucketForceDestroy lets terraform destroy delete the certs bucket
	// together with the PKI backups in it.
	CertsBucketForceDestroy bool `yaml:"certsBucketForceDestroy"`
	// EFSBackups turns on the file system's automatic backups (AWS Backup's
	// default EFS plan: daily, kept 35 days); on by default in production.
	EFSBackups bool `yaml:"efsBackups"`
	// Logging turns on the AWS-side audit trails of the network and the
	// certs bucket (on by default in production).
	Logging Logging `yaml:"logging"`

	// Warnings are findings that do not stop kforge (not part of the file).
	Warnings []FieldError `yaml:"-"`
	// File is the environment file this configuration was loaded from.
	File string `yaml:"-"`
}

// State says where Terraform keeps this environment's state (S3 backend).
// Not a Terraform input: the CLI passes it as backend configuration.
type State struct {
	// Bucket is the state bucket; empty means kforge-state-<account>-<region>.
	Bucket string `yaml:"bucket"`
	// Key is the object key of the state file inside the bucket.
	Key string `yaml:"key"`
	// Region of the state bucket (defaults to the cluster region).
	Region string `yaml:"region"`
}

// Network describes the VPC.
type Network struct {
	AZCount    int      `yaml:"azCount"`
	VPCCIDR    string   `yaml:"vpcCIDR"`
	NATGateway bool     `yaml:"natGateway"`
	AdminCIDRs []string `yaml:"adminCIDRs"`
	// ExcludeZoneIDs are Availability Zone IDs (use1-az3) the cluster never
	// uses: one where the account cannot place a load balancer or the
	// node types. IDs, not names: names map to zones per account.
	ExcludeZoneIDs []string `yaml:"excludeZoneIDs"`
	// WorkerEgress are outbound rules the workers' security group adds to
	// kforge's own, which let pods out on HTTPS only (docs/SECURITY.md,
	// "Egress from the nodes"): a database in the VPC, SMTP.
	WorkerEgress []EgressRule `yaml:"workerEgress"`
}

// EgressRule is one outbound rule of network.workerEgress.
type EgressRule struct {
	// CIDR is the IPv4 range the workers may reach.
	CIDR string `yaml:"cidr"`
	// Protocol is tcp (the default) or udp.
	Protocol string `yaml:"protocol"`
	// Ports is one port ("5432") or a range ("9092-9094").
	Ports string `yaml:"ports"`
	// Description names what the rule is for, in EC2's rule description.
	Description string `yaml:"description"`
}

// Logging describes the audit trails kept in the cluster's log bucket.
type Logging struct {
	// VPCFlowLogs records every accepted and rejected connection of the VPC.
	VPCFlowLogs bool `yaml:"vpcFlowLogs"`
	// BucketAccessLogs records every request to the certs bucket (which
	// holds the CA key and the etcd snapshots).
	BucketAccessLogs bool `yaml:"bucketAccessLogs"`
	// RetentionDays is how long the log bucket keeps both.
	RetentionDays int `yaml:"retentionDays"`
}

// DNS describes the cluster's domain and how it is delegated.
type DNS struct {
	Domain string `yaml:"domain"`
	// ZoneID of an existing Route 53 hosted zone; empty creates one.
	ZoneID string `yaml:"zoneID"`
	// Registrar where the delegation is done: porkbun, route53 or none.
	Registrar string `yaml:"registrar"`
	// ParentZoneID is the Route 53 zone that receives the NS delegation
	// when Registrar is route53.
	ParentZoneID string `yaml:"parentZoneID"`
}

// Kubernetes holds the cluster's Kubernetes settings.
type Kubernetes struct {
	Version     string `yaml:"version"`
	PodCIDR     string `yaml:"podCIDR"`
	ServiceCIDR string `yaml:"serviceCIDR"`
}

// Ingress holds the NodePorts the NLB forwards to and the ACME account e-mail.
type Ingress struct {
	HTTPNodePort  int    `yaml:"httpNodePort"`
	HTTPSNodePort int    `yaml:"httpsNodePort"`
	ACMEEmail     string `yaml:"acmeEmail"`
}

// ControlPlane sizes the control-plane node.
type ControlPlane struct {
	InstanceType string `yaml:"instanceType"`
	VolumeSize   int    `yaml:"volumeSize"`
	// BackupInterval is how often the control plane uploads an etcd
	// snapshot and its PKI (a Go duration in whole minutes, such as 15m):
	// the recovery point of a lost or replaced control-plane node.
	BackupInterval string `yaml:"backupInterval"`
	// EtcdQuotaGiB is etcd's backend quota in GiB, the database size at
	// which etcd refuses every write.
	EtcdQuotaGiB int `yaml:"etcdQuotaGiB"`
}

// WorkerPool is one Auto Scaling Group of workers.
type WorkerPool struct {
	InstanceTypes []string          `yaml:"instanceTypes"`
	Min           int               `yaml:"min"`
	Desired       int               `yaml:"desired"`
	Max           int               `yaml:"max"`
	VolumeSize    int               `yaml:"volumeSize"`
	Labels        map[string]string `yaml:"labels"`
	// Taints as key=value:Effect (value optional), Effect one of
	// NoSchedule, PreferNoSchedule, NoExecute.
	Taints []string `yaml:"taints"`
	// Capacity is on-demand or spot. A spot pool runs everything above
	// OnDemandBase on Spot, chosen price-capacity-optimized over its types.
	Capacity string `yaml:"capacity"`
	// OnDemandBase is how many of a spot pool's instances stay on-demand.
	OnDemandBase int `yaml:"onDemandBase"`
	// Ingress: the pool runs the ingress controller and its instances sit
	// in the NLB's target groups. Default: true when the pool has no
	// NoSchedule or NoExecute taint (the controller tolerates none).
	Ingress bool `yaml:"ingress"`
}

// IngressLabel is the node label of workers in pools with ingress: true;
// the ingress controller is placed by it.
const IngressLabel = "kforge.io/ingress"

// RunsIngress reports the pool's ingress setting (defaults applied).
func (p WorkerPool) RunsIngress() bool { return p.Ingress }

// HasHardTaint reports a NoSchedule or NoExecute taint.
func (p WorkerPool) HasHardTaint() bool {
	for _, t := range p.Taints {
		if strings.HasSuffix(t, ":NoSchedule") || strings.HasSuffix(t, ":NoExecute") {
			return true
		}
	}
	return false
}

// Pool capacity types (workerPools.<name>.capacity).
const (
	CapacityOnDemand = "on-demand"
	CapacitySpot     = "spot"
)

// CapacityTypeLabel is the node label every worker carries: the value is the
// pool's capacity (spot or on-demand), so workloads can select or avoid Spot.
const CapacityTypeLabel = "node.kubernetes.io/capacity-type"

// EFSNotReadyTaint is the startup taint the EFS CSI node plugin lifts from
// its own Node once it runs. Lifting it needs "patch" on Nodes, which
// kforge's node plugin is not given, so no pool may carry it.
const EFSNotReadyTaint = "efs.csi.aws.com/agent-not-ready"
