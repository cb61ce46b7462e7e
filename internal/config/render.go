package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"time"
)

// GoldenAgentBinaryPath is the agent path, per Go architecture, rendered
// into the committed example tfvars files (what make build writes); the CLI
// passes the real paths through RenderOptions.
func GoldenAgentBinaryPath(arch string) string { return "bin/kforge-linux-" + arch }

// RenderOptions carries the root module inputs that are not part of the
// configuration file because the CLI decides them at run time.
type RenderOptions struct {
	// AgentBinaryPaths are the local linux kforge binaries uploaded for the
	// nodes, by Go architecture (agent_binary_paths). Nil renders
	// GoldenAgentBinaryPath for each of AgentArchitectures().
	AgentBinaryPaths map[string]string
	// EndpointURL is the AWS-compatible emulator endpoint (aws_endpoint_url);
	// empty on real AWS.
	EndpointURL string
	// NodeConfig is extra non-secret node agent configuration as a JSON
	// object (node_config). Empty renders "{}".
	NodeConfig string
	// KforgeVersion is the running kforge's build (kforge_version), which
	// the state records for the next apply's downgrade check.
	KforgeVersion string
}

// Inputs are the root module's input variables (terraform/cluster/
// variables.tf), one field each, named by their JSON tags. The fields stand
// in the order of their names, so the rendered file reads sorted.
type Inputs struct {
	ACMEEmail               string            `json:"acme_email"`
	AdminCIDRs              []string          `json:"admin_cidrs"`
	AgentBinaryPaths        map[string]string `json:"agent_binary_paths"`
	AMIID                   string            `json:"ami_id"`
	AWSEndpointURL          string            `json:"aws_endpoint_url"`
	AZCount                 int               `json:"az_count"`
	BackupIntervalMinutes   int               `json:"backup_interval_minutes"`
	CertsBucketAccessLogs   bool              `json:"certs_bucket_access_logs"`
	CertsBucketForceDestroy bool              `json:"certs_bucket_force_destroy"`
	ClusterName             string            `json:"cluster_name"`
	ControllerInstanceType  string            `json:"controller_instance_type"`
	ControllerVolumeSize    int               `json:"controller_volume_size"`
	// CreateAutoscalingServiceLinkedRole is always false: kforge creates
	// the role itself before Terraform runs (internal/servicerole), so the
	// stack never owns it.
	CreateAutoscalingServiceLinkedRole bool                  `json:"create_autoscaling_service_linked_role"`
	DNSZoneID                          string                `json:"dns_zone_id"`
	Domain                             string                `json:"domain"`
	EFSBackups                         bool                  `json:"efs_backups"`
	Environment                        string                `json:"environment"`
	EtcdQuotaGiB                       int                   `json:"etcd_quota_gib"`
	ExcludeZoneIDs                     []string              `json:"exclude_zone_ids"`
	HTTPNodePort                       int                   `json:"http_node_port"`
	HTTPSNodePort                      int                   `json:"https_node_port"`
	KforgeVersion                      string                `json:"kforge_version"`
	KubernetesVersion                  string                `json:"kubernetes_version"`
	LogRetentionDays                   int                   `json:"log_retention_days"`
	NATGateway                         bool                  `json:"nat_gateway"`
	NodeConfig                         string                `json:"node_config"`
	PodCIDR                            string                `json:"pod_cidr"`
	Region                             string                `json:"region"`
	ServiceCIDR                        string                `json:"service_cidr"`
	Tags                               map[string]string     `json:"tags"`
	VPCCIDR                            string                `json:"vpc_cidr"`
	VPCFlowLogs                        bool                  `json:"vpc_flow_logs"`
	WorkerEgress                       []EgressInputs        `json:"worker_egress"`
	WorkerPools                        map[string]PoolInputs `json:"worker_pools"`
}

// EgressInputs are one entry of the worker_egress variable.
type EgressInputs struct {
	CIDR        string `json:"cidr"`
	Description string `json:"description"`
	FromPort    int    `json:"from_port"`
	Protocol    string `json:"protocol"`
	ToPort      int    `json:"to_port"`
}

// PoolInputs are one entry of the worker_pools variable.
type PoolInputs struct {
	Capacity      string            `json:"capacity"`
	DesiredSize   int               `json:"desired_size"`
	Ingress       bool              `json:"ingress"`
	InstanceTypes []string          `json:"instance_types"`
	Labels        map[string]string `json:"labels"`
	MaxSize       int               `json:"max_size"`
	MinSize       int               `json:"min_size"`
	OnDemandBase  int               `json:"on_demand_base"`
	Taints        []string          `json:"taints"`
	VolumeSize    int               `json:"volume_size"`
}

// TFVars returns the root module's input variables for this configuration.
// At most one RenderOptions is used; without one the golden placeholder
// agent paths and no endpoint are rendered.
func (c *Cluster) TFVars(opts ...RenderOptions) Inputs {
	var o RenderOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	agents := make(map[string]string, 2)
	for arch, path := range o.AgentBinaryPaths {
		agents[arch] = path
	}
	if o.AgentBinaryPaths == nil {
		for _, arch := range c.AgentArchitectures() {
			agents[arch] = GoldenAgentBinaryPath(arch)
		}
	}
	if o.NodeConfig == "" {
		o.NodeConfig = "{}"
	}
	pools := make(map[string]PoolInputs, len(c.WorkerPools))
	for name, p := range c.WorkerPools {
		labels := make(map[string]string, len(p.Labels)+1)
		for k, v := range p.Labels {
			labels[k] = v
		}
		labels[CapacityTypeLabel] = p.Capacity
		pools[name] = PoolInputs{
			Capacity: p.Capacity, DesiredSize: p.Desired, Ingress: p.RunsIngress(), InstanceTypes: list(p.InstanceTypes), Labels: labels,
			MaxSize: p.Max, MinSize: p.Min, OnDemandBase: p.OnDemandBase, Taints: list(p.Taints), VolumeSize: p.VolumeSize,
		}
	}
	tags := make(map[string]string, len(c.Tags))
	for k, v := range c.Tags {
		tags[k] = v
	}
	return Inputs{
		ACMEEmail:               c.Ingress.ACMEEmail,
		AdminCIDRs:              list(c.Network.AdminCIDRs),
		AgentBinaryPaths:        agents,
		AMIID:                   c.AMIID,
		AWSEndpointURL:          o.EndpointURL,
		AZCount:                 c.Network.AZCount,
		BackupIntervalMinutes:   c.BackupIntervalMinutes(),
		CertsBucketAccessLogs:   c.Logging.BucketAccessLogs,
		CertsBucketForceDestroy: c.CertsBucketForceDestroy,
		ClusterName:             c.Name,
		ControllerInstanceType:  c.ControlPlane.InstanceType,
		ControllerVolumeSize:    c.ControlPlane.VolumeSize,
		DNSZoneID:               c.DNS.ZoneID,
		Domain:                  c.DNS.Domain,
		EFSBackups:              c.EFSBackups,
		Environment:             c.Environment,
		EtcdQuotaGiB:            c.ControlPlane.EtcdQuotaGiB,
		ExcludeZoneIDs:          list(c.Network.ExcludeZoneIDs),
		HTTPNodePort:            c.Ingress.HTTPNodePort,
		HTTPSNodePort:           c.Ingress.HTTPSNodePort,
		KforgeVersion:           o.KforgeVersion,
		KubernetesVersion:       c.Kubernetes.Version,
		LogRetentionDays:        c.Logging.RetentionDays,
		NATGateway:              c.Network.NATGateway,
		NodeConfig:              o.NodeConfig,
		PodCIDR:                 c.Kubernetes.PodCIDR,
		Region:                  c.Region,
		ServiceCIDR:             c.Kubernetes.ServiceCIDR,
		Tags:                    tags,
		VPCCIDR:                 c.Network.VPCCIDR,
		VPCFlowLogs:             c.Logging.VPCFlowLogs,
		WorkerEgress:            c.workerEgressInputs(),
		WorkerPools:             pools,
	}
}

// workerEgressInputs are network.workerEgress as the worker_egress
// variable takes them.
func (c *Cluster) workerEgressInputs() []EgressInputs {
	out := make([]EgressInputs, 0, len(c.Network.WorkerEgress))
	for _, r := range c.Network.WorkerEgress {
		from, to, _ := parsePorts(r.Ports)
		out = append(out, EgressInputs{CIDR: r.CIDR, Description: r.Description, FromPort: from, Protocol: r.Protocol, ToPort: to})
	}
	return out
}

// Names returns the variable names Inputs renders (its JSON tags).
func (Inputs) Names() []string {
	ty := reflect.TypeFor[Inputs]()
	names := make([]string, 0, ty.NumField())
	for i := range ty.NumField() {
		name, _, _ := strings.Cut(ty.Field(i).Tag.Get("json"), ",")
		names = append(names, name)
	}
	return names
}

// TFVarsJSON renders TFVars as terraform.tfvars.json: keys sorted, two-space
// indentation, a trailing newline.
func (c *Cluster) TFVarsJSON(opts ...RenderOptions) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(c.TFVars(opts...)); err != nil {
		return nil, fmt.Errorf("encoding terraform variables of cluster %s: %w", c.Name, err)
	}
	return buf.Bytes(), nil
}

// AgentArchitectures lists the Go architectures (amd64, arm64) the control
// plane and the worker pools run on, sorted: one agent build each.
func (c *Cluster) AgentArchitectures() []string {
	seen := map[string]bool{goArch(c.ControlPlane.InstanceType): true}
	for _, p := range c.WorkerPools {
		for _, t := range p.InstanceTypes {
			seen[goArch(t)] = true
		}
	}
	out := make([]string, 0, len(seen))
	for _, a := range []string{"amd64", "arm64"} {
		if seen[a] {
			out = append(out, a)
		}
	}
	return out
}

func goArch(instanceType string) string {
	if isArm(instanceType) {
		return "arm64"
	}
	return "amd64"
}

// list is in, never nil: Terraform reads null as "not set" and [] as empty.
func list(in []string) []string {
	if in == nil {
		return []string{}
	}
	return in
}

// BackupIntervalMinutes is controlPlane.backupInterval in minutes (the
// default's when the value does not parse; validation reports that).
func (c *Cluster) BackupIntervalMinutes() int {
	d, err := time.ParseDuration(c.ControlPlane.BackupInterval)
	if err != nil {
		d, _ = time.ParseDuration(DefaultBackupInterval)
	}
	return int(d / time.Minute)
}
