variable "cluster_name" {
  description = "Cluster name; prefixes every resource name and keys the Cluster Autoscaler discovery tag."
  type        = string
}

variable "vpc_id" {
  description = "Id of the VPC."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; workers may reach NFS (the EFS mount targets) within it."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0))
    error_message = "vpc_cidr must be an IPv4 CIDR such as 10.0.0.0/16."
  }
}

variable "subnet_ids" {
  description = "Subnets, one per zone; every pool spreads over all of them."
  type        = list(string)
}

variable "pools" {
  description = "Worker pools by name: instance types (the first is the launch template's; more make a mixed-instances policy), min/desired/max sizes, root volume size, node labels, taints (key=value:Effect), capacity (on-demand or spot: a spot pool runs everything above on_demand_base on Spot, price-capacity-optimized over its types)."
  type = map(object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    volume_size    = optional(number, 30)
    labels         = optional(map(string), {})
    taints         = optional(list(string), [])
    capacity       = optional(string, "on-demand") # or "spot"
    on_demand_base = optional(number, 0)           # spot pools: instances kept on-demand
    ingress        = optional(bool, true)          # in the NLB target groups (runs the ingress controller)
  }))

  validation {
    condition     = length(var.pools) > 0 && alltrue([for p in values(var.pools) : p.min_size >= 0 && p.min_size <= p.desired_size && p.desired_size <= p.max_size && length(p.instance_types) > 0])
    error_message = "pools must have at least one pool, each with 0 <= min_size <= desired_size <= max_size and at least one instance type."
  }

  validation {
    condition     = alltrue([for p in values(var.pools) : contains(["on-demand", "spot"], p.capacity) && p.on_demand_base >= 0 && p.on_demand_base <= p.max_size && (p.capacity == "spot" || p.on_demand_base == 0)])
    error_message = "every worker pool capacity must be \"on-demand\" or \"spot\", with 0 <= on_demand_base <= max_size, and on_demand_base only on spot pools."
  }
}

variable "ami_ids" {
  description = "AMI per pool name."
  type        = map(string)
}

variable "user_data" {
  description = "Rendered user data per pool name (plain text; encoded here). Must not carry secrets."
  type        = map(string)

  validation {
    condition     = alltrue([for u in values(var.user_data) : length(base64encode(u)) <= 16384])
    error_message = "every user_data entry must stay under AWS's 16 KB limit once base64-encoded."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the root volumes."
  type        = string
}

variable "instance_profile_name" {
  description = "IAM instance profile of the workers."
  type        = string
}

variable "target_group_arns" {
  description = "Target groups the ASG of every pool with ingress = true registers its instances in (the NLB's http and https groups)."
  type        = list(string)
  default     = []
}

variable "nlb_security_group_id" {
  description = "Security group of the NLB; the only source admitted on the node ports."
  type        = string
}

variable "node_ports" {
  description = "Node ports the NLB forwards to (HTTP and HTTPS of the ingress controller)."
  type        = list(number)
  default     = [30080, 30443]

  validation {
    condition     = alltrue([for p in var.node_ports : p >= 30000 && p <= 32767])
    error_message = "node_ports must be in the NodePort range 30000-32767."
  }
}

variable "peer_security_group_ids" {
  description = "Security groups of the other cluster nodes (the control plane); they may reach kubelet and the CNI ports."
  type        = list(string)
  default     = []
}

variable "wait_for_capacity_timeout" {
  description = "How long Terraform waits for each pool's desired capacity (\"0\" disables the wait)."
  type        = string
  default     = "10m"
}

variable "detailed_monitoring" {
  description = "Enable 1-minute CloudWatch metrics for the instances (extra cost)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource, and propagated to the instances and their volumes."
  type        = map(string)
  default     = {}
}
