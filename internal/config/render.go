package config

import (
	"bytes"
	"encoding/json"
	"fmt"
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
}

// TFVars returns the root module's input variables (terraform/cluster/
// variables.tf) for this configuration. At most one RenderOptions is used;
// without one the golden placeholder agent path and no endpoint are rendered.
func (c *Cluster) TFVars(opts ...RenderOptions) map[string]any {
	var o RenderOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	agents := make(map[string]any, 2)
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

	pools := make(map[string]any, len(c.WorkerPools))
	for name, p := range c.WorkerPools {
		labels := make(map[string]any, len(p.Labels))
		for k, v := range p.Labels {
			labels[k] = v
		}
		labels[CapacityTypeLabel] = p.Capacity
		pools[name] = map[string]any{
			"instance_types": stringList(p.InstanceTypes),
			"min_size":       p.Min,
			"desired_size":   p.Desired,
			"max_size":       p.Max,
			"volume_size":    p.VolumeSize,
			"labels":         labels,
			"taints":         stringList(p.Taints),
			"capacity":       p.Capacity,
			"on_demand_base": p.OnDemandBase,
			"ingress":        p.RunsIngress(),
		}
	}
	tags := make(map[string]any, len(c.Tags))
	for k, v := range c.Tags {
		tags[k] = v
	}

	return map[string]any{
		"cluster_name":               c.Name,
		"environment":                c.Environment,
		"region":                     c.Region,
		"az_count":                   c.Network.AZCount,
		"vpc_cidr":                   c.Network.VPCCIDR,
		"nat_gateway":                c.Network.NATGateway,
		"admin_cidrs":                stringList(c.Network.AdminCIDRs),
		"domain":                     c.DNS.Domain,
		"dns_zone_id":                c.DNS.ZoneID,
		"kubernetes_version":         c.Kubernetes.Version,
		"pod_cidr":                   c.Kubernetes.PodCIDR,
		"service_cidr":               c.Kubernetes.ServiceCIDR,
		"http_node_port":             c.Ingress.HTTPNodePort,
		"https_node_port":            c.Ingress.HTTPSNodePort,
		"acme_email":                 c.Ingress.ACMEEmail,
		"ami_id":                     c.AMIID,
		"controller_instance_type":   c.ControlPlane.InstanceType,
		"controller_volume_size":     c.ControlPlane.VolumeSize,
		"backup_interval_minutes":    c.BackupIntervalMinutes(),
		"worker_pools":               pools,
		"tags":                       tags,
		"certs_bucket_force_destroy": c.CertsBucketForceDestroy,
		"vpc_flow_logs":              c.Logging.VPCFlowLogs,
		"certs_bucket_access_logs":   c.Logging.BucketAccessLogs,
		"log_retention_days":         c.Logging.RetentionDays,
		// kforge creates the Auto Scaling service-linked role itself before
		// Terraform runs (internal/servicerole), so the stack never owns it.
		"create_autoscaling_service_linked_role": false,
		"agent_binary_paths":                     agents,
		"aws_endpoint_url":                       o.EndpointURL,
		"node_config":                            o.NodeConfig,
	}
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

// stringList returns a non-nil copy so empty lists render as [] not null.
func stringList(in []string) []any {
	out := make([]any, 0, len(in))
	for _, s := range in {
		out = append(out, s)
	}
	return out
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
