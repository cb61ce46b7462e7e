# Inputs of the root module. kforge renders these from envs/<env>.yaml
# (internal/config); a Terraform user can set them directly.
# CONTRACT: names and types here are shared with internal/config's renderer.

variable "cluster_name" {
  description = "Name of the cluster: lowercase letters, digits and hyphens, 3-20 characters, starting with a letter. Prefixes every resource name (NLB names are limited to 32 characters, bucket names to 63)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.cluster_name)) && !strcontains(var.cluster_name, "--") && !can(regex("^(sg|internal|sthree|amzn-s3-demo)-", var.cluster_name))
    error_message = "cluster_name must be 3-20 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit, and not starting with sg-, internal-, sthree- or amzn-s3-demo- (prefixes EC2, Elastic Load Balancing and S3 refuse in the names derived from it), for example \"kforge-dev\"."
  }
}

variable "environment" {
  description = "Environment this cluster belongs to (dev, staging, prod or local)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,15}$", var.environment))
    error_message = "environment must be 1-16 lowercase letters, digits or hyphens, starting with a letter (for example \"dev\", \"staging\", \"prod\", \"local\")."
  }
}

variable "region" {
  description = "AWS region, for example eu-west-1."
  type        = string

  validation {
    condition     = can(regex("^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-[0-9]$", var.region))
    error_message = "region must be an AWS region name such as eu-west-1 or us-east-1."
  }
}

variable "az_count" {
  description = "Number of availability zones to spread subnets, the NLB, EFS mount targets and workers over (1-6; one is for development: it saves an NLB address, but an AZ outage then stops the cluster)."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 1 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number between 1 and 6."
  }
}

variable "exclude_zone_ids" {
  description = "Availability Zone IDs (use1-az3) the cluster never uses, for a zone where the account cannot place the NLB (a constrained zone) or the node types; the first az_count of the other zones, by name, are used. IDs, not names: zone names map to zones per account."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.exclude_zone_ids : can(regex("^[a-z]{3,6}[1-9][0-9]?-az[1-9][0-9]?$", id))]) && length(distinct(var.exclude_zone_ids)) == length(var.exclude_zone_ids)
    error_message = "exclude_zone_ids must be distinct Availability Zone IDs such as use1-az3 (ZoneId in aws ec2 describe-availability-zones), not zone names."
  }
}

variable "domain" {
  description = "DNS domain of the cluster, for example dev.example.com. Apex and wildcard records point at the NLB; api.<domain> points at the control plane."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain)) && length(var.domain) <= 240
    error_message = "domain must be a lowercase DNS name with at least two labels and no trailing dot, for example dev.example.com."
  }
}

variable "dns_zone_id" {
  description = "Existing Route 53 hosted zone id for the domain. Empty: a new public zone is created (and its name servers are an output, for delegation at the registrar)."
  type        = string
  default     = ""

  validation {
    condition     = var.dns_zone_id == "" || can(regex("^[A-Z0-9]{1,32}$", var.dns_zone_id))
    error_message = "dns_zone_id must be empty (create a zone) or a Route 53 hosted zone id such as Z0123456789ABCDEFGHIJ."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16 to /24). Subnets are carved from it."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(cidrhost(var.vpc_cidr, 0) == split("/", var.vpc_cidr)[0], false) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 network address with a prefix between /16 and /24, for example 10.0.0.0/16."
  }

  # Each zone's node subnet is the VPC's prefix + 4; AWS reserves 5
  # addresses of it, and 10 stay free for the NLB (it needs 8 free to be
  # created or changed), the EFS mount target and the NAT gateway. The
  # nodes: the control plane, each pool at max_size, and one surge instance
  # per pool during a roll (internal/config's nodeAddresses).
  validation {
    condition     = try(var.az_count * (pow(2, 28 - tonumber(split("/", var.vpc_cidr)[1])) - 15) >= 1 + sum([for p in values(var.worker_pools) : p.max_size + 1]), true)
    error_message = "vpc_cidr leaves too few addresses for the nodes: each zone's subnet (the VPC's prefix + 4) holds its size less 15 (AWS's 5, the NLB's 8, EFS and NAT), and the pools may grow to 1 + the sum of (max_size + 1). Use a larger range, for example /20, or more zones."
  }
}

variable "nat_gateway" {
  description = "Place nodes in private subnets behind one NAT gateway per AZ (more secure, ~32 USD/month per gateway). false: nodes in public subnets whose security groups admit nothing beyond the NLB's node ports and admin CIDRs."
  type        = bool
  default     = false
}

variable "admin_cidrs" {
  description = "CIDRs allowed to reach the Kubernetes API (6443) from outside the VPC."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : !strcontains(c, ":") && try(cidrhost(c, 0) == split("/", c)[0], false)])
    error_message = "admin_cidrs must be IPv4 CIDRs without host bits, for example [\"203.0.113.10/32\", \"198.51.100.0/24\"]."
  }

  # The API is open to the VPC by a rule of its own; EC2 refuses a second
  # identical rule.
  validation {
    condition     = !contains(var.admin_cidrs, var.vpc_cidr)
    error_message = "admin_cidrs must not list vpc_cidr: the control plane's security group already admits the VPC, and EC2 refuses an identical second rule."
  }
}

variable "worker_egress" {
  description = "Outbound rules the workers' security group adds to kforge's own (TCP 443 anywhere, TCP 80 for ACME, NFS within the VPC, the cluster's own ports): a protocol (tcp or udp), a port range and an IPv4 CIDR each, for what workloads reach beyond HTTPS."
  type        = list(object({ cidr = string, protocol = string, from_port = number, to_port = number, description = string }))
  default     = []

  validation {
    condition     = alltrue([for r in var.worker_egress : !strcontains(r.cidr, ":") && try(cidrhost(r.cidr, 0) == split("/", r.cidr)[0], false)])
    error_message = "worker_egress: each cidr must be an IPv4 CIDR without host bits, for example 10.0.0.0/16."
  }
  validation {
    condition     = alltrue([for r in var.worker_egress : contains(["tcp", "udp"], r.protocol) && r.from_port >= 1 && r.from_port <= r.to_port && r.to_port <= 65535 && floor(r.from_port) == r.from_port && floor(r.to_port) == r.to_port])
    error_message = "worker_egress: protocol must be tcp or udp, and from_port to to_port a range of whole ports within 1-65535."
  }
  # EC2's rule description: at most 255 characters of a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$*.
  validation {
    condition     = alltrue([for r in var.worker_egress : length(r.description) <= 255 && can(regex("^[a-zA-Z0-9. _:/()#,@+=&;{}!$*\\[\\]-]*$", r.description))])
    error_message = "worker_egress: a description is at most 255 characters of letters, digits, spaces and ._-:/()#,@[]+=&;{}!$* (EC2's rule description)."
  }
  # EC2 refuses a second identical rule (InvalidPermission.Duplicate).
  validation {
    condition     = length(distinct([for r in var.worker_egress : "${r.protocol}/${r.from_port}-${r.to_port}/${r.cidr}"])) == length(var.worker_egress)
    error_message = "worker_egress: two rules have the same protocol, ports and cidr."
  }
}

variable "kubernetes_version" {
  description = "Kubernetes version installed by the node agent, as MAJOR.MINOR.PATCH (for example 1.36.2)."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+$", var.kubernetes_version))
    error_message = "kubernetes_version must be MAJOR.MINOR.PATCH without a leading \"v\", for example 1.36.2."
  }

  validation {
    condition     = try(contains(local.supported_kubernetes_minors, regex("^([0-9]+\\.[0-9]+)\\.[0-9]+$", var.kubernetes_version)[0]), true)
    error_message = "kubernetes_version must be a release of a minor kforge installs: ${join(", ", local.supported_kubernetes_minors)} (internal/config/versions.go)."
  }
}

variable "pod_cidr" {
  description = "Pod network CIDR (must not overlap the VPC or service CIDR)."
  type        = string
  default     = "10.244.0.0/16"

  validation {
    condition     = can(cidrhost(var.pod_cidr, 0)) && try(!(cidrhost("${cidrhost(var.pod_cidr, 0)}/${min(tonumber(split("/", var.pod_cidr)[1]), tonumber(split("/", var.vpc_cidr)[1]))}", 0) == cidrhost("${cidrhost(var.vpc_cidr, 0)}/${min(tonumber(split("/", var.pod_cidr)[1]), tonumber(split("/", var.vpc_cidr)[1]))}", 0)), true)
    error_message = "pod_cidr must be an IPv4 CIDR that does not overlap vpc_cidr, for example 10.244.0.0/16."
  }

  validation {
    condition     = try(tonumber(split("/", var.pod_cidr)[1]) <= 24 && pow(2, 24 - tonumber(split("/", var.pod_cidr)[1])) >= 2 + sum([for p in values(var.worker_pools) : p.max_size]), true)
    error_message = "pod_cidr must hold one /24 per node at the pools' maximum size (every pool's max_size, and two for the control plane: a replaced one keeps its Node until the new one is Ready), for example 10.244.0.0/16."
  }

  validation {
    condition     = try(alltrue([for r in local.unroutable_ranges : cidrhost("${cidrhost(var.pod_cidr, 0)}/${min(tonumber(split("/", var.pod_cidr)[1]), tonumber(split("/", r)[1]))}", 0) != cidrhost("${cidrhost(r, 0)}/${min(tonumber(split("/", var.pod_cidr)[1]), tonumber(split("/", r)[1]))}", 0)]), true)
    error_message = "pod_cidr must not overlap ${join(", ", local.unroutable_ranges)} (this network, loopback, link-local with the instance metadata service, multicast), for example 10.244.0.0/16."
  }
}

variable "service_cidr" {
  description = "Kubernetes service CIDR (must not overlap the VPC or pod CIDR)."
  type        = string
  default     = "10.96.0.0/12"

  validation {
    condition     = can(cidrhost(var.service_cidr, 0)) && try(!(cidrhost("${cidrhost(var.service_cidr, 0)}/${min(tonumber(split("/", var.service_cidr)[1]), tonumber(split("/", var.vpc_cidr)[1]))}", 0) == cidrhost("${cidrhost(var.vpc_cidr, 0)}/${min(tonumber(split("/", var.service_cidr)[1]), tonumber(split("/", var.vpc_cidr)[1]))}", 0)) && !(cidrhost("${cidrhost(var.service_cidr, 0)}/${min(tonumber(split("/", var.service_cidr)[1]), tonumber(split("/", var.pod_cidr)[1]))}", 0) == cidrhost("${cidrhost(var.pod_cidr, 0)}/${min(tonumber(split("/", var.service_cidr)[1]), tonumber(split("/", var.pod_cidr)[1]))}", 0)), true)
    error_message = "service_cidr must be an IPv4 CIDR that overlaps neither vpc_cidr nor pod_cidr, for example 10.96.0.0/12."
  }

  validation {
    condition     = try(alltrue([for r in local.unroutable_ranges : cidrhost("${cidrhost(var.service_cidr, 0)}/${min(tonumber(split("/", var.service_cidr)[1]), tonumber(split("/", r)[1]))}", 0) != cidrhost("${cidrhost(r, 0)}/${min(tonumber(split("/", var.service_cidr)[1]), tonumber(split("/", r)[1]))}", 0)]), true)
    error_message = "service_cidr must not overlap ${join(", ", local.unroutable_ranges)} (this network, loopback, link-local with the instance metadata service, multicast), for example 10.96.0.0/12."
  }
}

variable "ami_id" {
  description = "AMI for every node. Empty: the latest Amazon Linux 2023 AMI for the instance architecture, looked up from the public SSM parameter."
  type        = string
  default     = ""

  validation {
    condition     = var.ami_id == "" || can(regex("^ami-([0-9a-f]{8}|[0-9a-f]{17})$", var.ami_id))
    error_message = "ami_id must be empty (latest Amazon Linux 2023) or an AMI id such as ami-0123456789abcdef0."
  }
}

variable "controller_instance_type" {
  description = "EC2 instance type of the control-plane node (vertical scaling)."
  type        = string
  default     = "t3.medium"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", var.controller_instance_type))
    error_message = "controller_instance_type must be an EC2 instance type such as t3.medium."
  }

  # kubeadm init's preflight refuses fewer than 2 CPUs or 1700 MB. Of the
  # nano, micro, small and medium sizes only these seven meet both; the
  # others have one vCPU (t2.small, m1.small, m3.medium and the mediums of
  # the Graviton and AMD families: m7g, c7a, r8a...) or too little memory
  # (nano, micro, c1.medium). internal/config's smallControlPlaneTypes is
  # the same list.
  validation {
    condition     = !can(regex("\\.(nano|micro|small|medium)$", var.controller_instance_type)) || contains(["t2.medium", "t3.small", "t3.medium", "t3a.small", "t3a.medium", "t4g.small", "t4g.medium"], var.controller_instance_type)
    error_message = "controller_instance_type must have at least the 2 vCPUs and 1700 MB kubeadm requires of a control-plane node: of the nano to medium sizes only t3.small, t3a.small, t4g.small and the medium of t2, t3, t3a and t4g qualify, and any large or bigger size does."
  }

  # GPU, accelerator and FPGA types (g*, p*, inf*, trn*, dl*, vt1, f1, f2)
  # boot without drivers on the standard AL2023 image, and Mac types run
  # macOS on Dedicated Hosts only. internal/config's acceleratedFamily is
  # the same pattern.
  validation {
    condition     = !can(regex("^([gp][a-z]*[0-9]|inf[0-9]|trn[0-9]|dl[0-9]|vt[0-9]|f[0-9])", var.controller_instance_type)) && !startswith(var.controller_instance_type, "mac")
    error_message = "controller_instance_type must not be a GPU, accelerator or Mac type (g*, p*, inf*, trn*, dl*, vt1, f1, f2, mac*): kforge's nodes run the standard AL2023 image without accelerator drivers, and Mac types need Dedicated Hosts and macOS; use a general-purpose, compute, memory or storage type, for example t3.medium, m7i.large or c7g.large."
  }

  # Amazon Linux 2023, the nodes' image, runs on Graviton2 and later only.
  validation {
    condition     = !startswith(var.controller_instance_type, "a1.")
    error_message = "controller_instance_type must not be a first-generation Graviton (a1) type, which Amazon Linux 2023 does not run on; use Graviton2 or later, for example t4g.medium or m7g.large."
  }
}

variable "backup_interval_minutes" {
  description = "Minutes between the control plane's etcd snapshot and PKI uploads to the certs bucket: the recovery point when the control-plane node is lost or replaced."
  type        = number
  default     = 15

  validation {
    condition     = var.backup_interval_minutes >= 5 && var.backup_interval_minutes <= 1440 && floor(var.backup_interval_minutes) == var.backup_interval_minutes
    error_message = "backup_interval_minutes must be a whole number from 5 to 1440 (24 hours)."
  }
}

variable "etcd_quota_gib" {
  description = "etcd's backend quota in GiB (--quota-backend-bytes): the database size at which etcd refuses every write. Applied by kubeadm init, so a change reaches a running cluster when the control plane is replaced (`kforge roll --control-plane`); the control plane's launch template names it for that reason."
  type        = number
  default     = 2

  # 2 GiB is etcd's default, 8 GiB its suggested maximum; the backup sends
  # a snapshot larger than 128 MiB in parts.
  validation {
    condition     = var.etcd_quota_gib >= 2 && var.etcd_quota_gib <= 8 && floor(var.etcd_quota_gib) == var.etcd_quota_gib
    error_message = "etcd_quota_gib must be a whole number from 2 (etcd's default) to 8 GiB (etcd's suggested maximum)."
  }
}

variable "controller_volume_size" {
  description = "Root volume size of the control-plane node in GiB, at least 2 × etcd_quota_gib + 12: etcd's database and a snapshot of it sit on it together (a backup, a restore)."
  type        = number
  default     = 30

  validation {
    condition     = var.controller_volume_size >= 20 && var.controller_volume_size <= 16384
    error_message = "controller_volume_size must be between 20 and 16384 GiB."
  }

  # etcd's database and one copy of it (a backup's snapshot, or a
  # replacement's downloaded snapshot) at the quota, and the node's own
  # 12 GiB: OS, images, logs and the kubelet's free-space threshold.
  validation {
    condition     = var.controller_volume_size >= 2 * var.etcd_quota_gib + 12
    error_message = "controller_volume_size must be at least 2 × etcd_quota_gib + 12 GiB: etcd's database and a snapshot of it at the quota, and the node's own needs."
  }
}

variable "worker_pools" {
  description = "Worker pools by name. Each pool is a launch template and an Auto Scaling Group spread over all AZs; Cluster Autoscaler owns desired_size after creation. taints are key=value:Effect; capacity is on-demand or spot, and on_demand_base is how many of a spot pool's instances stay on-demand; ingress (default: true when the pool has no NoSchedule or NoExecute taint) runs the ingress controller and puts the pool in the NLB target groups."
  type = map(object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    volume_size    = optional(number, 30)
    labels         = optional(map(string), {})
    taints         = optional(list(string), [])    # key=value:Effect
    capacity       = optional(string, "on-demand") # or "spot"
    on_demand_base = optional(number, 0)           # spot pools: instances kept on-demand
    ingress        = optional(bool)                # runs Traefik, in the NLB target groups; default: no NoSchedule/NoExecute taint
  }))

  validation {
    condition     = length(var.worker_pools) >= 1 && alltrue([for name in keys(var.worker_pools) : can(regex("^[a-z]([a-z0-9-]{0,14}[a-z0-9])?$", name)) && name != "controller"])
    error_message = "worker_pools must hold at least one pool, named with 1-16 lowercase letters, digits or hyphens, starting with a letter and not ending in a hyphen; \"controller\" is reserved for the control plane (<cluster_name>-controller names its launch template and ASG)."
  }

  validation {
    condition     = alltrue([for p in values(var.worker_pools) : p.min_size >= 0 && p.min_size <= p.desired_size && p.desired_size <= p.max_size && p.max_size >= 1])
    error_message = "every worker pool needs 0 <= min_size <= desired_size <= max_size and max_size >= 1."
  }

  validation {
    condition     = alltrue([for p in values(var.worker_pools) : length(p.instance_types) >= 1 && alltrue([for t in p.instance_types : can(regex("^[a-z][a-z0-9-]*\\.[a-z0-9]+$", t))])])
    error_message = "every worker pool needs at least one instance type, each like t3.large."
  }

  validation {
    condition     = alltrue([for p in values(var.worker_pools) : length(p.instance_types) <= 20 && length(distinct(p.instance_types)) == length(p.instance_types) && length(distinct([for t in p.instance_types : can(regex(local.graviton_pattern, t))])) <= 1])
    error_message = "every worker pool lists at most 20 instance types, each once, and all of one architecture (arm64 Graviton types such as m7g.large, or x86_64 ones): a pool's launch template has one AMI."
  }

  # As controller_instance_type: no GPU, accelerator or Mac types. Cluster
  # Autoscaler's template would advertise the accelerator (nvidia.com/gpu),
  # so a pod requesting one would scale up a pool that cannot run it.
  validation {
    condition     = alltrue(flatten([for p in values(var.worker_pools) : [for t in p.instance_types : !can(regex("^([gp][a-z]*[0-9]|inf[0-9]|trn[0-9]|dl[0-9]|vt[0-9]|f[0-9])", t)) && !startswith(t, "mac")]]))
    error_message = "worker pool instance types must not be GPU, accelerator or Mac types (g*, p*, inf*, trn*, dl*, vt1, f1, f2, mac*): kforge's nodes run the standard AL2023 image without accelerator drivers or a device plugin, and Mac types need Dedicated Hosts and macOS; use a general-purpose, compute, memory or storage type, for example m7i.large, c7g.large or r7g.large."
  }

  validation {
    condition     = alltrue(flatten([for p in values(var.worker_pools) : [for t in p.instance_types : !startswith(t, "a1.")]]))
    error_message = "worker pool instance types must not be first-generation Graviton (a1) types, which Amazon Linux 2023 does not run on; use Graviton2 or later, for example t4g.medium or m7g.large."
  }

  validation {
    condition     = alltrue(flatten([for p in values(var.worker_pools) : [for k, v in p.labels : can(regex("^(([a-z0-9]([-a-z0-9]*[a-z0-9])?)(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$", k)) && length(split("/", k)[0]) <= 253 && length(k) <= 82 && (!can(regex("^([^/]*\\.)?(kubernetes|k8s)\\.io/", k)) || can(regex("^([^/]*\\.)?(node|kubelet)\\.kubernetes\\.io/", k))) && can(regex("^([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?$", v))]]))
    error_message = "worker pool labels must be Kubernetes labels the kubelet may set on its node: keys [prefix/]name with a lowercase DNS prefix and a name of 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit; no kubernetes.io/ or k8s.io/ prefix but node.kubernetes.io/ and kubelet.kubernetes.io/; values empty or like the name; keys of at most 82 characters (a Cluster Autoscaler template tag k8s.io/cluster-autoscaler/node-template/label/<key> is at most 128)."
  }

  validation {
    condition     = alltrue([for p in values(var.worker_pools) : p.volume_size >= 20 && p.volume_size <= 16384])
    error_message = "every worker pool volume_size must be between 20 and 16384 GiB."
  }

  validation {
    condition     = alltrue(flatten([for p in values(var.worker_pools) : [for t in p.taints : can(regex("^[A-Za-z0-9./_-]{1,82}(=[A-Za-z0-9._-]*)?:(NoSchedule|PreferNoSchedule|NoExecute)$", t))]]))
    error_message = "worker pool taints must look like key=value:Effect or key:Effect, with Effect one of NoSchedule, PreferNoSchedule, NoExecute, and a key of at most 82 characters (a Cluster Autoscaler template tag k8s.io/cluster-autoscaler/node-template/taint/<key> is at most 128)."
  }

  # The EFS CSI node plugin lifts this startup taint by patching its Node,
  # which kforge does not let it do (docs/SECURITY.md).
  validation {
    condition     = alltrue(flatten([for p in values(var.worker_pools) : [for t in p.taints : try(regex("^[^=:]+", t), t) != "efs.csi.aws.com/agent-not-ready"]]))
    error_message = "a worker pool must not carry the taint efs.csi.aws.com/agent-not-ready: the EFS CSI node plugin lifts it by patching its Node, which it may not do here, so the pool would never take a pod."
  }

  validation {
    condition     = alltrue([for p in values(var.worker_pools) : length(distinct([for t in p.taints : try(regex("^[^=:]+", t), t)])) == length(p.taints)])
    error_message = "a worker pool must not list two taints with the same key, whatever their effects: its Cluster Autoscaler template holds one taint per key."
  }

  validation {
    condition     = alltrue([for p in values(var.worker_pools) : contains(["on-demand", "spot"], p.capacity) && p.on_demand_base >= 0 && p.on_demand_base <= p.max_size && (p.capacity == "spot" || p.on_demand_base == 0)])
    error_message = "every worker pool capacity must be \"on-demand\" or \"spot\", with 0 <= on_demand_base <= max_size, and on_demand_base only on spot pools."
  }

  # EC2 Auto Scaling takes 50 tags a group. A pool's group carries the tags,
  # each label and taint as a Cluster Autoscaler template tag, and eleven of
  # kforge's own: the two cluster tags, Name, kforge.io/role and
  # kforge.io/pool, two autoscaler discovery tags, the template's pool label
  # and ephemeral storage, the ingress label, and the marker `kforge roll`
  # adds (internal/config counts the capacity-type label it renders into
  # labels as a twelfth).
  validation {
    condition     = alltrue([for p in values(var.worker_pools) : length(var.tags) + length(p.labels) + length(p.taints) <= 39])
    error_message = "a worker pool's tags + labels + taints must be at most 39: with kforge's own tags they are tags on the pool's Auto Scaling group, and AWS allows 50."
  }

  # Traefik tolerates no taint: an ingress pool with a hard taint would sit
  # in the target groups with no ingress controller, unhealthy forever.
  validation {
    condition     = alltrue([for p in values(var.worker_pools) : !coalesce(p.ingress, false) || !anytrue([for t in p.taints : can(regex(":(NoSchedule|NoExecute)$", t))])])
    error_message = "a worker pool with ingress = true must not have NoSchedule or NoExecute taints: the ingress controller does not tolerate them."
  }

  validation {
    condition     = anytrue([for p in values(var.worker_pools) : coalesce(p.ingress, !anytrue([for t in p.taints : can(regex(":(NoSchedule|NoExecute)$", t))]))])
    error_message = "at least one worker pool must run ingress: set ingress = true on an untainted pool (by default every pool without NoSchedule/NoExecute taints does)."
  }

  # The ingress controller is a DaemonSet: Cluster Autoscaler removes nodes
  # that run only DaemonSets and adds none for them.
  validation {
    condition = !anytrue([for p in values(var.worker_pools) : coalesce(p.ingress, !anytrue([for t in p.taints : can(regex(":(NoSchedule|NoExecute)$", t))]))]) || anytrue([
      for p in values(var.worker_pools) : p.min_size >= 1 if coalesce(p.ingress, !anytrue([for t in p.taints : can(regex(":(NoSchedule|NoExecute)$", t))]))
    ])
    error_message = "a worker pool that runs ingress must have min_size >= 1: Cluster Autoscaler removes nodes that run only DaemonSets (the ingress controller is one) and adds none for them, so the NLB would be left without a target."
  }
}

variable "http_node_port" {
  description = "NodePort the ingress controller listens on for HTTP; the NLB's port 80 forwards to it."
  type        = number
  default     = 30080

  validation {
    condition     = var.http_node_port >= 30000 && var.http_node_port <= 32767
    error_message = "http_node_port must be in the NodePort range 30000-32767."
  }
}

variable "https_node_port" {
  description = "NodePort the ingress controller listens on for HTTPS; the NLB's port 443 forwards to it."
  type        = number
  default     = 30443

  validation {
    condition     = var.https_node_port >= 30000 && var.https_node_port <= 32767 && var.https_node_port != var.http_node_port
    error_message = "https_node_port must be in the NodePort range 30000-32767 and differ from http_node_port."
  }
}

variable "acme_email" {
  description = "E-mail address given to Let's Encrypt by cert-manager's ClusterIssuers."
  type        = string

  validation {
    condition     = can(regex("^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$", var.acme_email))
    error_message = "acme_email must be an e-mail address Let's Encrypt can write to, for example ops@example.com."
  }
}

variable "agent_binary_paths" {
  description = "Local paths of the linux kforge binaries uploaded to the bootstrap prefix of the certs bucket, by Go architecture (amd64, arm64): one for each architecture the control plane and the worker pools run on. Each node fetches the one for its own architecture (uname -m) and checks its SHA-256 before running it."
  type        = map(string)

  validation {
    condition     = length(var.agent_binary_paths) > 0 && alltrue([for arch, path in var.agent_binary_paths : contains(["amd64", "arm64"], arch) && path != "" && fileexists(path)])
    error_message = "agent_binary_paths must map amd64 and/or arm64 to existing files: build the linux kforge binaries first (make build writes bin/kforge-linux-amd64 and bin/kforge-linux-arm64) and give their paths."
  }
}

variable "node_config" {
  description = "Non-secret node agent configuration (JSON), uploaded next to the agent. Bucket, zone and EFS ids are merged in by this module."
  type        = string
  default     = "{}"

  validation {
    condition     = can(keys(jsondecode(var.node_config)))
    error_message = "node_config must be a JSON object, for example \"{}\"."
  }
}

variable "certs_bucket_force_destroy" {
  description = "Let `terraform destroy` delete the certs bucket together with the PKI backups and join material the control plane wrote into it. false: `kforge down` keeps the certs and log buckets and the cluster key with its alias (README, \"Keeping the certs bucket\")."
  type        = bool
  default     = true
}

variable "efs_backups" {
  description = "Turn on the file system's automatic backups: AWS Backup's default EFS plan backs it up daily into the vault aws/efs/automatic-backup-vault and keeps each recovery point 35 days, also after the file system is deleted. Ignored against the emulator, which has no PutBackupPolicy."
  type        = bool
  default     = false
}

variable "vpc_flow_logs" {
  description = "Record the VPC's accepted and rejected connections (VPC flow logs) in the cluster's log bucket."
  type        = bool
  default     = false
}

variable "certs_bucket_access_logs" {
  description = "Record every request to the certs bucket (S3 server access logs) in the cluster's log bucket."
  type        = bool
  default     = false
}

variable "log_retention_days" {
  description = "Days the log bucket keeps flow logs and access logs."
  type        = number
  default     = 90

  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 3650 && floor(var.log_retention_days) == var.log_retention_days
    error_message = "log_retention_days must be a whole number of days between 1 and 3650."
  }
}

variable "create_autoscaling_service_linked_role" {
  description = "Create the account's AWSServiceRoleForAutoScaling (which the KMS key policy names) in this stack. false: it must exist; `kforge up` creates it when missing before Terraform runs and never deletes it. true only on an account without it, when Terraform is used directly: creating an existing one fails with InvalidInput \"has been taken\", and destroying this stack deletes it, which AWS refuses while any Auto Scaling group of the account still uses it (the destroy then fails at that role: take it out of the state first with `terraform state rm 'module.kms.aws_iam_service_linked_role.autoscaling[0]'`)."
  type        = bool
  default     = false
}

variable "aws_endpoint_url" {
  description = "Base URL of an AWS-compatible emulator (for example http://127.0.0.1:5000). Empty on real AWS. When set, every service endpoint points there and the bucket policy's TLS-only condition is left out, because the emulator cannot evaluate conditions."
  type        = string
  default     = ""

  validation {
    condition     = var.aws_endpoint_url == "" || can(regex("^https?://[^/\\s]+/?$", var.aws_endpoint_url))
    error_message = "aws_endpoint_url must be empty (real AWS) or an http(s) base URL such as http://127.0.0.1:5000."
  }
}

variable "tags" {
  description = "Extra tags applied to every resource through the provider's default tags, except S3 objects and Route 53 hosted zones, which take at most 10 tags and carry kforge's own two only. At most 40, and at most 41 with any one worker pool's labels and taints."
  type        = map(string)
  default     = {}

  validation {
    condition     = alltrue([for k in keys(var.tags) : !startswith(lower(k), "kforge.io/") && !startswith(lower(k), "aws:")])
    error_message = "tags must not use the reserved prefixes \"kforge.io/\" (set by kforge) or \"aws:\" (in any case: AWS reserves \"AWS:\" too)."
  }

  validation {
    condition     = length(var.tags) <= 40
    error_message = "tags: keep at most 40. AWS allows 50 per resource, and kforge and the modules add their own."
  }

  validation {
    condition     = alltrue([for k, v in var.tags : length(k) >= 1 && length(k) <= 128 && length(v) <= 256 && can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]*$", k)) && can(regex("^[\\p{L}\\p{Z}\\p{N}_.:/=+@-]*$", v))])
    error_message = "tags: keys of 1-128 characters and values of at most 256, made of letters, digits, spaces and _ . : / = + - @ (AWS's tag rules)."
  }
}

variable "kforge_version" {
  description = "The kforge build that applies this configuration, recorded in the kforge_version output: a later `kforge up` by an older release refuses to apply over a newer one's agent and cluster.json. Empty when Terraform is run directly."
  type        = string
  default     = ""

  validation {
    condition     = can(regex("^[!-~]{0,128}$", var.kforge_version))
    error_message = "kforge_version must be at most 128 printable ASCII characters without spaces (a release such as v1.4.0, git describe's v1.4.0-3-gabc1234), or empty."
  }
}
