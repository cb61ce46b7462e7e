package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	kforge "github.com/kforge/kforge"
)

// sharedRule is one bad input that the config package and Terraform both
// refuse: the config package must reject the document with old replaced by
// new, naming field, and `terraform test` must reject the Inputs that set
// renders, on variable.
type sharedRule struct {
	name, old, new, field string
	variable              string
	set                   func(*Inputs)
}

// sharedRules are the input rules the root module enforces too, in
// terraform/cluster/variables.tf, so that it also works without kforge, and
// so does every module that takes the same input. Each case runs through
// all of them, so the copies cannot drift apart.
var sharedRules = []sharedRule{
	{"name too long", "name: demo", "name: a-very-long-cluster-name", "name", "cluster_name", func(i *Inputs) { i.ClusterName = "a-very-long-cluster-name" }},
	{"name uppercase", "name: demo", "name: Demo", "name", "cluster_name", func(i *Inputs) { i.ClusterName = "Demo" }},
	{"name double hyphen", "name: demo", "name: de--mo", "name", "cluster_name", func(i *Inputs) { i.ClusterName = "de--mo" }},
	{"name trailing hyphen", "name: demo", "name: demo-", "name", "cluster_name", func(i *Inputs) { i.ClusterName = "demo-" }},
	{"name security group prefix", "name: demo", "name: sg-demo", "name", "cluster_name", func(i *Inputs) { i.ClusterName = "sg-demo" }},
	{"name load balancer prefix", "name: demo", "name: internal-demo", "name", "cluster_name", func(i *Inputs) { i.ClusterName = "internal-demo" }},
	{"name bucket prefix", "name: demo", "name: sthree-demo", "name", "cluster_name", func(i *Inputs) { i.ClusterName = "sthree-demo" }},
	{"name bucket demo prefix", "name: demo", "name: amzn-s3-demo-x", "name", "cluster_name", func(i *Inputs) { i.ClusterName = "amzn-s3-demo-x" }},
	{"region format", "region: eu-west-1", "region: europe", "region", "region", func(i *Inputs) { i.Region = "europe" }},
	{"az count high", "azCount: 2", "azCount: 7", "network.azCount", "az_count", func(i *Inputs) { i.AZCount = 7 }},
	{"vpc cidr host bits", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.1.0/16", "network.vpcCIDR", "vpc_cidr", func(i *Inputs) { i.VPCCIDR = "10.0.1.0/16" }},
	{"vpc cidr too large", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/8", "network.vpcCIDR", "vpc_cidr", func(i *Inputs) { i.VPCCIDR = "10.0.0.0/8" }},
	{"vpc cidr too small", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/26", "network.vpcCIDR", "vpc_cidr", func(i *Inputs) { i.VPCCIDR = "10.0.0.0/26" }},
	{"vpc cidr prefix", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/33", "network.vpcCIDR", "vpc_cidr", func(i *Inputs) { i.VPCCIDR = "10.0.0.0/33" }},
	{"excluded zone given by name", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/16\n  excludeZoneIDs: [us-east-1e]", "network.excludeZoneIDs[0]", "exclude_zone_ids", func(i *Inputs) { i.ExcludeZoneIDs = []string{"us-east-1e"} }},
	{"excluded zone twice", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/16\n  excludeZoneIDs: [use1-az3, use1-az3]", "network.excludeZoneIDs[1]", "exclude_zone_ids", func(i *Inputs) { i.ExcludeZoneIDs = []string{"use1-az3", "use1-az3"} }},
	{"admin cidr without prefix", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.10]", "network.adminCIDRs[0]", "admin_cidrs", func(i *Inputs) { i.AdminCIDRs = []string{"198.51.100.10"} }},
	{"admin cidr ipv6", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [\"2001:db8::/32\"]", "network.adminCIDRs[0]", "admin_cidrs", func(i *Inputs) { i.AdminCIDRs = []string{"2001:db8::/32"} }},
	{"admin cidr host bits", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.1/24]", "network.adminCIDRs[0]", "admin_cidrs", func(i *Inputs) { i.AdminCIDRs = []string{"198.51.100.1/24"} }},
	{"domain single label", "domain: dev.example.org", "domain: localhost", "dns.domain", "domain", func(i *Inputs) { i.Domain = "localhost" }},
	{"domain uppercase and trailing dot", "domain: dev.example.org", "domain: Dev.Example.org.", "dns.domain", "domain", func(i *Inputs) { i.Domain = "Dev.Example.org." }},
	{"kubernetes version shape", "version: 1.36.6", "version: \"1.36\"", "kubernetes.version", "kubernetes_version", func(i *Inputs) { i.KubernetesVersion = "1.36" }},
	{"kubernetes version with v", "version: 1.36.6", "version: v1.36.6", "kubernetes.version", "kubernetes_version", func(i *Inputs) { i.KubernetesVersion = "v1.36.6" }},
	{"kubernetes minor unsupported", "version: 1.36.6", "version: 1.34.9", "kubernetes.version", "kubernetes_version", func(i *Inputs) { i.KubernetesVersion = "1.34.9" }},
	{"etcd quota below etcd's default", "volumeSize: 30\n", "volumeSize: 30\n  etcdQuotaGiB: 1\n", "controlPlane.etcdQuotaGiB", "etcd_quota_gib", func(i *Inputs) { i.EtcdQuotaGiB = 1 }},
	{"control plane volume below two etcd quotas", "volumeSize: 30\n", "volumeSize: 20\n  etcdQuotaGiB: 5\n", "controlPlane.volumeSize", "controller_volume_size", func(i *Inputs) { i.ControllerVolumeSize, i.EtcdQuotaGiB = 20, 5 }},
	{"etcd quota above etcd's suggested maximum", "volumeSize: 30\n", "volumeSize: 30\n  etcdQuotaGiB: 9\n", "controlPlane.etcdQuotaGiB", "etcd_quota_gib", func(i *Inputs) { i.EtcdQuotaGiB = 9 }},
	{"node port low", "httpNodePort: 30080", "httpNodePort: 8080", "ingress.httpNodePort", "http_node_port", func(i *Inputs) { i.HTTPNodePort = 8080 }},
	{"https node port low", "httpsNodePort: 30443", "httpsNodePort: 443", "ingress.httpsNodePort", "https_node_port", func(i *Inputs) { i.HTTPSNodePort = 443 }},
	{"node ports equal", "httpsNodePort: 30443", "httpsNodePort: 30080", "ingress.httpsNodePort", "https_node_port", func(i *Inputs) { i.HTTPSNodePort = 30080 }},
	{"pool min above max", "min: 1\n    desired: 1", "min: 4\n    desired: 4", "workerPools.general.desired", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.MinSize, p.DesiredSize = 4, 4 })
	}},
	{"pool desired above max", "desired: 1", "desired: 5", "workerPools.general.desired", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.DesiredSize = 5 })
	}},
	{"pool taint without effect", `taints: ["dedicated=web:PreferNoSchedule"]`, `taints: ["dedicated=system"]`, "workerPools.general.taints[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Taints = []string{"dedicated=system"} })
	}},
	{"pool with a NoSchedule taint runs ingress", `taints: ["dedicated=web:PreferNoSchedule"]`, "taints: [\"dedicated=web:NoSchedule\"]\n    ingress: true", "workerPools.general.ingress", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Taints, p.Ingress = []string{"dedicated=web:NoSchedule"}, true })
	}},
	{"no pool runs ingress", "max: 3\n", "max: 3\n    ingress: false\n", "workerPools", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Ingress = false })
	}},
	{"ingress pools all at min 0", "min: 1\n", "min: 0\n", "workerPools.general.min", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.MinSize = 0 })
	}},
	{"pool mixed architectures", "instanceTypes: [t3.medium]", "instanceTypes: [t3.medium, t4g.medium]", "workerPools.general.instanceTypes", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"t3.medium", "t4g.medium"} })
	}},
	{"pool instance type twice", "instanceTypes: [t3.medium]", "instanceTypes: [t3.medium, t3.medium]", "workerPools.general.instanceTypes[1]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"t3.medium", "t3.medium"} })
	}},
	{"label key invalid", "team: platform", "-team: platform", `workerPools.general.labels["-team"]`, "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Labels = map[string]string{"-team": "platform"} })
	}},
	{"label reserved prefix", "team: platform", "kubernetes.io/role: web", `workerPools.general.labels["kubernetes.io/role"]`, "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Labels = map[string]string{"kubernetes.io/role": "web"} })
	}},
	{"label value invalid", "team: platform", "team: platform team", "workerPools.general.labels.team", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Labels = map[string]string{"team": "platform team"} })
	}},
	{"pod cidr too small for the pools", "podCIDR: 10.244.0.0/16", "podCIDR: 10.244.0.0/23", "kubernetes.podCIDR", "pod_cidr", func(i *Inputs) { i.PodCIDR = "10.244.0.0/23" }},
	{"pod cidr without a range for a replaced control plane", "podCIDR: 10.244.0.0/16", "podCIDR: 10.244.0.0/22", "kubernetes.podCIDR", "pod_cidr", func(i *Inputs) {
		i.PodCIDR = "10.244.0.0/22"
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.MaxSize = 3 })
	}},
	{"pool taint twice", `taints: ["dedicated=web:PreferNoSchedule"]`, `taints: ["dedicated=web:PreferNoSchedule", "dedicated=api:PreferNoSchedule"]`, "workerPools.general.taints[1]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) {
			p.Taints = []string{"dedicated=web:PreferNoSchedule", "dedicated=api:PreferNoSchedule"}
		})
	}},
	{"pod cidr overlaps vpc", "podCIDR: 10.244.0.0/16", "podCIDR: 10.0.128.0/17", "kubernetes.podCIDR", "pod_cidr", func(i *Inputs) { i.PodCIDR = "10.0.128.0/17" }},
	{"service cidr overlaps pods", "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.240.0.0/12", "kubernetes.serviceCIDR", "service_cidr", func(i *Inputs) { i.ServiceCIDR = "10.240.0.0/12" }},
	{"service cidr overlaps vpc", "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 10.0.0.0/12", "kubernetes.serviceCIDR", "service_cidr", func(i *Inputs) { i.ServiceCIDR = "10.0.0.0/12" }},
	{"pool tags labels and taints over the group's 50", "team: platform", manyEntries("l", 42, "\n      "), "workerPools.general", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) {
			p.Labels = map[string]string{}
			for k := range 42 {
				p.Labels[fmt.Sprintf("l%d", k)] = "x"
			}
		})
	}},
	{"pool taint key twice with two effects", `taints: ["dedicated=web:PreferNoSchedule"]`, `taints: ["dedicated=gpu:NoSchedule", "dedicated=gpu:NoExecute"]`, "workerPools.general.taints[1]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Taints = []string{"dedicated=gpu:NoSchedule", "dedicated=gpu:NoExecute"} })
	}},
	{"label key too long for the autoscaler's template tag", "team: platform", longKey + ": web", `workerPools.general.labels["` + longKey + `"]`, "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Labels = map[string]string{longKey: "web"} })
	}},
	{"taint key too long for the autoscaler's template tag", `taints: ["dedicated=web:PreferNoSchedule"]`, `taints: ["` + longKey + `=web:PreferNoSchedule"]`, "workerPools.general.taints[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Taints = []string{longKey + "=web:PreferNoSchedule"} })
	}},
	{"taint the EFS node plugin cannot lift", `taints: ["dedicated=web:PreferNoSchedule"]`, `taints: ["efs.csi.aws.com/agent-not-ready:NoExecute"]`, "workerPools.general.taints[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.Taints = []string{"efs.csi.aws.com/agent-not-ready:NoExecute"} })
	}},
	{"admin cidr is the vpc", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [10.0.0.0/16]", "network.adminCIDRs[0]", "admin_cidrs", func(i *Inputs) { i.AdminCIDRs = []string{"10.0.0.0/16"} }},
	{"pod cidr link-local", "podCIDR: 10.244.0.0/16", "podCIDR: 169.254.0.0/16", "kubernetes.podCIDR", "pod_cidr", func(i *Inputs) { i.PodCIDR = "169.254.0.0/16" }},
	{"service cidr loopback", "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 127.0.0.0/16", "kubernetes.serviceCIDR", "service_cidr", func(i *Inputs) { i.ServiceCIDR = "127.0.0.0/16" }},
	{"service cidr multicast", "serviceCIDR: 10.96.0.0/12", "serviceCIDR: 239.0.0.0/16", "kubernetes.serviceCIDR", "service_cidr", func(i *Inputs) { i.ServiceCIDR = "239.0.0.0/16" }},
	{"control plane micro", "instanceType: t3.medium\n  volumeSize", "instanceType: t3.micro\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "t3.micro" }},
	{"control plane one-vCPU graviton", "instanceType: t3.medium\n  volumeSize", "instanceType: c7g.medium\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "c7g.medium" }},
	{"control plane one-vCPU AMD medium", "instanceType: t3.medium\n  volumeSize", "instanceType: m7a.medium\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "m7a.medium" }},
	{"control plane one-vCPU AMD compute medium", "instanceType: t3.medium\n  volumeSize", "instanceType: c7a.medium\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "c7a.medium" }},
	{"control plane one-vCPU previous-generation medium", "instanceType: t3.medium\n  volumeSize", "instanceType: m3.medium\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "m3.medium" }},
	{"control plane one-vCPU previous-generation small", "instanceType: t3.medium\n  volumeSize", "instanceType: m1.small\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "m1.small" }},
	{"control plane two-vCPU medium under 1700 MB", "instanceType: t3.medium\n  volumeSize", "instanceType: c1.medium\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "c1.medium" }},
	{"control plane GPU type", "instanceType: t3.medium\n  volumeSize", "instanceType: g5.xlarge\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "g5.xlarge" }},
	{"control plane Grace GPU type", "instanceType: t3.medium\n  volumeSize", "instanceType: p6e-gb200.36xlarge\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "p6e-gb200.36xlarge" }},
	{"control plane Mac type", "instanceType: t3.medium\n  volumeSize", "instanceType: mac2.metal\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "mac2.metal" }},
	{"control plane Inferentia type", "instanceType: t3.medium\n  volumeSize", "instanceType: inf2.xlarge\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "inf2.xlarge" }},
	{"pool GPU type", "instanceTypes: [t3.medium]", "instanceTypes: [g5.xlarge]", "workerPools.general.instanceTypes[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"g5.xlarge"} })
	}},
	{"pool Grace GPU type", "instanceTypes: [t3.medium]", "instanceTypes: [p6e-gb200.36xlarge]", "workerPools.general.instanceTypes[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"p6e-gb200.36xlarge"} })
	}},
	{"pool GPU type after a general one", "instanceTypes: [t3.medium]", "instanceTypes: [m7i.xlarge, g4dn.xlarge]", "workerPools.general.instanceTypes[1]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"m7i.xlarge", "g4dn.xlarge"} })
	}},
	{"pool Mac type", "instanceTypes: [t3.medium]", "instanceTypes: [mac2.metal]", "workerPools.general.instanceTypes[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"mac2.metal"} })
	}},
	{"pool Apple M4 Mac type", "instanceTypes: [t3.medium]", "instanceTypes: [mac-m4.metal]", "workerPools.general.instanceTypes[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"mac-m4.metal"} })
	}},
	{"pool Inferentia type", "instanceTypes: [t3.medium]", "instanceTypes: [inf2.xlarge]", "workerPools.general.instanceTypes[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"inf2.xlarge"} })
	}},
	{"pool Trainium type", "instanceTypes: [t3.medium]", "instanceTypes: [trn1.2xlarge]", "workerPools.general.instanceTypes[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"trn1.2xlarge"} })
	}},
	{"control plane first-generation graviton", "instanceType: t3.medium\n  volumeSize", "instanceType: a1.xlarge\n  volumeSize", "controlPlane.instanceType", "controller_instance_type", func(i *Inputs) { i.ControllerInstanceType = "a1.xlarge" }},
	{"pool first-generation graviton", "instanceTypes: [t3.medium]", "instanceTypes: [a1.large]", "workerPools.general.instanceTypes[0]", "worker_pools", func(i *Inputs) {
		i.WorkerPools = poolWith(func(p *PoolInputs) { p.InstanceTypes = []string{"a1.large"} })
	}},
	{"pool name reserved", "  general:\n", "  controller:\n", "workerPools.controller", "worker_pools", func(i *Inputs) { i.WorkerPools = onePool("controller") }},
	{"pool name uppercase", "  general:\n", "  General:\n", "workerPools.General", "worker_pools", func(i *Inputs) { i.WorkerPools = onePool("General") }},
	{"pool name trailing hyphen", "  general:\n", "  general-:\n", "workerPools.general-", "worker_pools", func(i *Inputs) { i.WorkerPools = onePool("general-") }},
	{"pool name too long", "  general:\n", "  general-purpose-pool:\n", "workerPools.general-purpose-pool", "worker_pools", func(i *Inputs) { i.WorkerPools = onePool("general-purpose-pool") }},
}

// longKey is a valid label and taint key of 83 characters, one more than
// fits behind Cluster Autoscaler's template tag prefix in 128.
var longKey = "platform-team.infrastructure.example-corporation.com/" + strings.Repeat("w", 30)

// rootRules run through the config package and the root module only: the
// modules get tags that kforge's own are merged into, and only the root
// module knows the pools a VPC range must hold.
var rootRules = []sharedRule{
	{"egress cidr host bits", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.1.0/16, ports: \"5432\"}]", "network.workerEgress[0].cidr", "worker_egress", func(i *Inputs) {
		i.WorkerEgress = []EgressInputs{{CIDR: "10.0.1.0/16", Protocol: "tcp", FromPort: 5432, ToPort: 5432}}
	}},
	{"egress protocol", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, protocol: icmp, ports: \"8\"}]", "network.workerEgress[0].protocol", "worker_egress", func(i *Inputs) {
		i.WorkerEgress = []EgressInputs{{CIDR: "10.0.0.0/16", Protocol: "icmp", FromPort: 8, ToPort: 8}}
	}},
	{"egress description characters", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: \"5432\", description: \"db|primary\"}]", "network.workerEgress[0].description", "worker_egress", func(i *Inputs) {
		i.WorkerEgress = []EgressInputs{{CIDR: "10.0.0.0/16", Protocol: "tcp", FromPort: 5432, ToPort: 5432, Description: "db|primary"}}
	}},
	{"egress rule twice", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: \"5432\"}, {cidr: 10.0.0.0/16, ports: \"5432\", description: again}]", "network.workerEgress[1]", "worker_egress", func(i *Inputs) {
		i.WorkerEgress = []EgressInputs{{CIDR: "10.0.0.0/16", Protocol: "tcp", FromPort: 5432, ToPort: 5432}, {CIDR: "10.0.0.0/16", Protocol: "tcp", FromPort: 5432, ToPort: 5432, Description: "again"}}
	}},
	{"egress ports backwards", "adminCIDRs: [198.51.100.0/24]", "adminCIDRs: [198.51.100.0/24]\n  workerEgress: [{cidr: 10.0.0.0/16, ports: 9094-9092}]", "network.workerEgress[0].ports", "worker_egress", func(i *Inputs) {
		i.WorkerEgress = []EgressInputs{{CIDR: "10.0.0.0/16", Protocol: "tcp", FromPort: 9094, ToPort: 9092}}
	}},
	{"tag kforge prefix", "owner: platform", "kforge.io/cluster: x", `tags["kforge.io/cluster"]`, "tags", func(i *Inputs) { i.Tags = map[string]string{"kforge.io/cluster": "x"} }},
	{"tag aws prefix", "owner: platform", "aws:owner: platform", `tags["aws:owner"]`, "tags", func(i *Inputs) { i.Tags = map[string]string{"aws:owner": "platform"} }},
	{"tag AWS prefix uppercase", "owner: platform", "AWS:owner: platform", `tags["AWS:owner"]`, "tags", func(i *Inputs) { i.Tags = map[string]string{"AWS:owner": "platform"} }},
	{"tag key too long", "owner: platform", strings.Repeat("k", 129) + ": x", "tags." + strings.Repeat("k", 129), "tags", func(i *Inputs) { i.Tags = map[string]string{strings.Repeat("k", 129): "x"} }},
	{"tag value too long", "owner: platform", "owner: " + strings.Repeat("x", 257), "tags.owner", "tags", func(i *Inputs) { i.Tags = map[string]string{"owner": strings.Repeat("x", 257)} }},
	{"tag bad characters", "owner: platform", `owner: "a|b"`, "tags.owner", "tags", func(i *Inputs) { i.Tags = map[string]string{"owner": "a|b"} }},
	{"vpc cidr too small for the pools", "vpcCIDR: 10.0.0.0/16", "vpcCIDR: 10.0.0.0/24", "network.vpcCIDR", "vpc_cidr", func(i *Inputs) { i.VPCCIDR = "10.0.0.0/24" }},
	{"too many tags", "owner: platform", manyEntries("t", 41, "\n  "), "tags", "tags", func(i *Inputs) {
		i.Tags = map[string]string{}
		for k := range 41 {
			i.Tags[fmt.Sprintf("t%d", k)] = "x"
		}
	}},
}

// manyEntries is n map entries <prefix>0: x, <prefix>1: x, ... as YAML
// lines joined by sep.
func manyEntries(prefix string, n int, sep string) string {
	lines := make([]string, n)
	for k := range lines {
		lines[k] = fmt.Sprintf("%s%d: x", prefix, k)
	}
	return strings.Join(lines, sep)
}

// onePool is a worker_pools value whose only fault, if any, is its name.
func onePool(name string) map[string]PoolInputs {
	return map[string]PoolInputs{name: {
		Capacity: "on-demand", MinSize: 1, DesiredSize: 1, MaxSize: 3, Ingress: true,
		InstanceTypes: []string{"t3.medium"}, Labels: map[string]string{}, Taints: []string{}, VolumeSize: 30,
	}}
}

// poolWith is a worker_pools value of one pool, general, changed by edit.
func poolWith(edit func(*PoolInputs)) map[string]PoolInputs {
	pools := onePool("general")
	p := pools["general"]
	edit(&p)
	pools["general"] = p
	return pools
}

func TestSharedRulesInConfig(t *testing.T) {
	for _, tc := range append(slices.Clone(sharedRules), rootRules...) {
		t.Run(tc.name, func(t *testing.T) {
			_, err := loadString(t, strings.Replace(validDoc, tc.old, tc.new, 1))
			var ve *ValidationError
			if !errors.As(err, &ve) || !strings.Contains(err.Error(), tc.field) {
				t.Fatalf("config accepts what the root module rejects, or names another field: %v", err)
			}
		})
	}
}

// TestSharedRulesInTerraform writes one `run` block per case into a copy of
// the tests of the root module and of every module that declares the
// case's variable (mock provider, offline), and runs terraform test in
// each. A module keeps its own copy of a rule so that it also works alone;
// the same cases keep every copy in step with the root's and the config
// package's. The modules run side by side, each in a copy of its own, and
// the root module's many cases in rootShards parts, since every run block
// plans the whole root module.
func TestSharedRulesInTerraform(t *testing.T) {
	if testing.Short() {
		t.Skip("runs terraform test")
	}
	bin, err := exec.LookPath("terraform")
	if err != nil {
		t.Skipf("terraform is not installed: %v", err)
	}
	modules, err := fs.Glob(kforge.Terraform, "terraform/modules/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, stack := range append([]string{"terraform/cluster"}, modules...) {
		declared, err := declaredVariables(stack)
		if err != nil {
			t.Fatal(err)
		}
		rules := sharedRules
		if stack == "terraform/cluster" {
			rules = append(slices.Clone(sharedRules), rootRules...)
		}
		var cases []sharedRule
		for _, tc := range rules {
			if declared[tc.variable] {
				cases = append(cases, tc)
			} else if stack == "terraform/cluster" {
				t.Errorf("the root module declares no variable %q (case %q)", tc.variable, tc.name)
			}
		}
		if len(cases) == 0 {
			continue
		}
		shards := 1
		if stack == "terraform/cluster" {
			shards = rootShards
		}
		for k := range shards {
			name := path.Base(stack)
			if shards > 1 {
				name = fmt.Sprintf("%s/%dof%d", name, k+1, shards)
			}
			part := cases[k*len(cases)/shards : (k+1)*len(cases)/shards]
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				runSharedRules(t, bin, stack, part, declared)
			})
		}
	}
}

// rootShards is how many terraform test processes share the root module's
// cases.
const rootShards = 3

// declaredVariables returns the names of the variables a module declares.
func declaredVariables(stack string) (map[string]bool, error) {
	files, err := fs.Glob(kforge.Terraform, stack+"/*.tf")
	if err != nil {
		return nil, err
	}
	names := map[string]bool{}
	for _, f := range files {
		src, err := fs.ReadFile(kforge.Terraform, f)
		if err != nil {
			return nil, err
		}
		for _, m := range variableBlock.FindAllSubmatch(src, -1) {
			names[string(m[1])] = true
		}
	}
	return names, nil
}

// inputsJSON is the Inputs set makes, by JSON key.
func inputsJSON(t *testing.T, set func(*Inputs)) map[string]json.RawMessage {
	t.Helper()
	var in Inputs
	set(&in)
	raw, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(raw, &all); err != nil {
		t.Fatal(err)
	}
	return all
}

var variableBlock = regexp.MustCompile(`(?m)^variable "([A-Za-z0-9_-]+)"`)

// runName is a case's name as a run block's label: "name too long" runs as
// "rejects_name_too_long".
func runName(name string) string {
	return "rejects_" + strings.ToLower(nonLabel.ReplaceAllString(name, "_"))
}

var nonLabel = regexp.MustCompile(`[^A-Za-z0-9]+`)

// runSharedRules writes the cases into tests/shared_rules.tftest.hcl of a
// fresh copy of the modules, after the mock provider and valid variables of
// its first test file, and runs terraform test on that file. A case sets
// every declared variable its set changes, so that a rule between two
// variables (a volume against a quota) sees both.
func runSharedRules(t *testing.T, bin, stack string, cases []sharedRule, declared map[string]bool) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, kforge.Terraform); err != nil {
		t.Fatal(err)
	}
	tests, err := fs.Glob(kforge.Terraform, stack+"/tests/*.tftest.hcl")
	if err != nil || len(tests) == 0 {
		t.Fatalf("%s has no terraform test file to take the mock provider and valid variables from (%v)", stack, err)
	}
	base, err := fs.ReadFile(kforge.Terraform, tests[0])
	if err != nil {
		t.Fatal(err)
	}
	header, _, ok := strings.Cut(string(base), "\nrun \"")
	if !ok {
		t.Fatalf("%s has no run block to cut at", tests[0])
	}
	var b strings.Builder
	b.WriteString(header + "\n")
	zero := inputsJSON(t, func(*Inputs) {})
	for _, tc := range cases {
		all := inputsJSON(t, tc.set)
		fmt.Fprintf(&b, "run %q {\n  command = plan\n  variables {\n", runName(tc.name))
		for _, name := range slices.Sorted(maps.Keys(all)) {
			if name == tc.variable || (declared[name] && string(all[name]) != string(zero[name])) {
				fmt.Fprintf(&b, "    %s = %s\n", name, all[name])
			}
		}
		fmt.Fprintf(&b, "  }\n  expect_failures = [var.%s]\n}\n\n", tc.variable)
	}
	module := filepath.Join(dir, filepath.FromSlash(stack))
	if err := os.WriteFile(filepath.Join(module, "tests", "shared_rules.tftest.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = module
		cmd.Env = append(os.Environ(), "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("terraform %s in %s: %v\n%s", strings.Join(args, " "), stack, err, out)
		}
	}
	// The provider comes from the mirror where there is one (offline), else
	// from the registry, as in scripts/tf-test.
	initArgs := []string{"init", "-backend=false", "-input=false", "-no-color"}
	if p := os.Getenv("KFORGE_PLUGIN_DIR"); p != "" {
		initArgs = append(initArgs, "-plugin-dir="+p)
	}
	run(initArgs...)
	run("test", "-no-color", "-filter=tests/shared_rules.tftest.hcl")
}

// armTypes is the one table of instance types and whether they are Graviton
// (arm64): isArm and the root module's graviton_pattern must both agree
// with it.
var armTypes = map[string]bool{
	"t4g.small": true, "m7g.large": true, "c6gn.large": true, "g5g.xlarge": true, "a1.large": true,
	"is4gen.xlarge": true, "x2gd.metal": true, "hpc7g.16xlarge": true, "r8g.medium": true,
	"t3.medium": false, "g4dn.xlarge": false, "m7i-flex.large": false, "u-6tb1.metal": false,
	"mac2-m2.metal": false, "c6in.2xlarge": false, "p4d.24xlarge": false, "trn1.2xlarge": false,
}

// TestArchitectureTableInTerraform checks that the root module picks the
// arm64 image for exactly the types isArm calls Graviton. Terraform's
// regex() is Go's regexp (RE2), so the pattern is evaluated here as
// Terraform evaluates it.
func TestArchitectureTableInTerraform(t *testing.T) {
	src, err := fs.ReadFile(kforge.Terraform, "terraform/cluster/ami.tf")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^\s*graviton_pattern\s*=\s*("(?:[^"\\]|\\.)*")`).FindSubmatch(src)
	if m == nil {
		t.Fatal("terraform/cluster/ami.tf has no graviton_pattern local")
	}
	pattern, err := strconv.Unquote(string(m[1]))
	if err != nil {
		t.Fatalf("graviton_pattern %s: %v", m[1], err)
	}
	graviton := regexp.MustCompile(pattern)
	for typ, arm := range armTypes {
		if got := graviton.MatchString(typ); got != arm {
			t.Errorf("the root module takes %s for arm64 = %v, want %v (as isArm)", typ, got, arm)
		}
	}
}

// TestInstanceTypeRulesInTerraform checks that the root module's
// instance-type validations use the config package's own pattern of GPU,
// accelerator and FPGA families (for the control plane and the pools) and
// its list of the small control-plane types that meet kubeadm's minimum;
// the shared rules then try a few types through both.
func TestInstanceTypeRulesInTerraform(t *testing.T) {
	src, err := fs.ReadFile(kforge.Terraform, "terraform/cluster/variables.tf")
	if err != nil {
		t.Fatal(err)
	}
	pattern := `regex("` + acceleratedFamily.String() + `"`
	if n := strings.Count(string(src), pattern); n != 2 {
		t.Errorf("terraform/cluster/variables.tf uses %s %d times, want 2 (controller_instance_type, worker_pools)", pattern, n)
	}
	quoted := make([]string, len(smallControlPlaneTypes))
	for i, typ := range smallControlPlaneTypes {
		quoted[i] = strconv.Quote(typ)
	}
	if list := "contains([" + strings.Join(quoted, ", ") + "], var.controller_instance_type)"; !strings.Contains(string(src), list) {
		t.Errorf("terraform/cluster/variables.tf does not check %s", list)
	}
}
