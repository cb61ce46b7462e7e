// Package cluster is kforge's application layer: an environment resolved
// for a run (its config, work directory, endpoint and emulator) and the
// workflows the commands run on it. The cli package only parses flags,
// asks for confirmation and prints.
package cluster

import (
	"encoding/json"
	"fmt"
	"maps"
)

// Outputs are the root module's outputs (names fixed by the module
// contract in terraform/cluster/outputs.tf).
type Outputs struct {
	ClusterName       string            `json:"cluster_name"`
	Environment       string            `json:"environment"`
	Region            string            `json:"region"`
	VPCID             string            `json:"vpc_id"`
	NLBDNSName        string            `json:"nlb_dns_name"`
	NLBARN            string            `json:"nlb_arn"`
	TargetGroupARNs   map[string]string `json:"target_group_arns"`
	ZoneID            string            `json:"zone_id"`
	NameServers       []string          `json:"name_servers"`
	APIDNSName        string            `json:"api_dns_name"`
	APIEndpoint       string            `json:"api_endpoint"`
	CertsBucket       string            `json:"certs_bucket"`
	ControllerASGName string            `json:"controller_asg_name"`
	WorkerASGNames    map[string]string `json:"worker_asg_names"`
	EFSID             string            `json:"efs_id"`
	KMSKeyARN         string            `json:"kms_key_arn"`
	ControllerRoleARN string            `json:"controller_role_arn"`
	WorkerRoleARN     string            `json:"worker_role_arn"`
	Emulated          bool              `json:"emulated"`
	KubernetesVersion string            `json:"kubernetes_version"`
	AMIs              map[string]string `json:"amis"`
	// NodeEventsQueueURL is the queue the control plane's drainer reads;
	// a control-plane roll sends its snapshot request there.
	NodeEventsQueueURL string `json:"node_events_queue_url"`
	// KforgeVersion is the kforge build of the last apply; empty before
	// the output existed or when Terraform ran directly.
	KforgeVersion string `json:"kforge_version"`
}

// Groups are the cluster's Auto Scaling groups by pool name, the control
// plane's under ControlPlanePool.
func (o *Outputs) Groups() map[string]string {
	groups := maps.Clone(o.WorkerASGNames)
	if groups == nil {
		groups = map[string]string{}
	}
	if o.ControllerASGName != "" {
		groups[ControlPlanePool] = o.ControllerASGName
	}
	return groups
}

// DecodeOutputs decodes terraform output values into Outputs. An
// empty map (nothing applied yet) gives ok=false.
func DecodeOutputs(raw map[string]json.RawMessage) (out Outputs, ok bool, err error) {
	if len(raw) == 0 {
		return out, false, nil
	}
	data, err := json.Marshal(raw)
	if err != nil {
		return out, false, fmt.Errorf("encoding outputs: %w", err)
	}
	if err := json.Unmarshal(data, &out); err != nil {
		return out, false, fmt.Errorf("decoding the root module's outputs: %w", err)
	}
	return out, true, nil
}
