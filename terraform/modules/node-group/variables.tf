variable "cluster_name" {
  description = "Cluster name; prefixes every resource name and keys the Cluster Autoscaler discovery tag."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.cluster_name)) && !strcontains(var.cluster_name, "--") && !can(regex("^(sg|internal|sthree|amzn-s3-demo)-", var.cluster_name))
    error_message = "cluster_name must be 3-20 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit, and not starting with sg-, internal-, sthree- or amzn-s3-demo- (prefixes EC2, Elastic Load Balancing and S3 refuse in the names derived from it), for example \"kforge-dev\"."
  }
}

variable "role" {
  description = "What the nodes of these groups are: \"controller\" (the control plane: one group of exactly one node, API and etcd ports) or \"worker\" (pools scaled by Cluster Autoscaler, node ports from the NLB)."
  type        = string

  validation {
    condition     = contains(["controller", "worker"], var.role)
    error_message = "role must be \"controller\" or \"worker\"."
  }
}

variable "vpc_id" {
  description = "Id of the VPC."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC: the nodes may reach NFS (the EFS mount targets) within it, and the control plane admits the API from it."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(cidrhost(var.vpc_cidr, 0) == split("/", var.vpc_cidr)[0], false) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 network address with a prefix between /16 and /24, for example 10.0.0.0/16."
  }
}

variable "subnet_ids" {
  description = "Subnets, one per zone; every group spreads over all of them."
  type        = list(string)
}

variable "groups" {
  description = "Node groups by name (a group is a launch template and an Auto Scaling Group named <cluster_name>-<name>): instance types (the first is the launch template's; more make a mixed-instances policy), min/desired/max sizes, root volume size, node labels, taints (key=value:Effect), capacity (on-demand or spot: a spot group runs everything above on_demand_base on Spot, price-capacity-optimized over its types), ingress (workers only: in the NLB target groups). The controller role takes exactly one group of exactly one on-demand node."
  type = map(object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    volume_size    = optional(number, 30)
    labels         = optional(map(string), {})
    taints         = optional(list(string), [])
    capacity       = optional(string, "on-demand") # or "spot"
    on_demand_base = optional(number, 0)           # spot groups: instances kept on-demand
    ingress        = optional(bool, true)          # workers: in the NLB target groups (runs the ingress controller)
  }))

  validation {
    condition     = length(var.groups) > 0 && alltrue([for g in values(var.groups) : g.min_size >= 0 && g.min_size <= g.desired_size && g.desired_size <= g.max_size && length(g.instance_types) > 0])
    error_message = "groups must have at least one group, each with 0 <= min_size <= desired_size <= max_size and at least one instance type."
  }

  validation {
    condition     = alltrue([for g in values(var.groups) : contains(["on-demand", "spot"], g.capacity) && g.on_demand_base >= 0 && g.on_demand_base <= g.max_size && (g.capacity == "spot" || g.on_demand_base == 0)])
    error_message = "every group's capacity must be \"on-demand\" or \"spot\", with 0 <= on_demand_base <= max_size, and on_demand_base only on spot groups."
  }

  validation {
    condition     = alltrue([for g in values(var.groups) : g.volume_size >= 20 && g.volume_size <= 16384])
    error_message = "every group's volume_size must be between 20 and 16384 GiB."
  }

  # The control plane restores itself from the certs bucket when its one
  # node is replaced; a second node or a Spot node would break that.
  validation {
    condition     = var.role != "controller" || (length(var.groups) == 1 && alltrue([for g in values(var.groups) : g.min_size == 1 && g.desired_size == 1 && g.max_size == 1 && g.capacity == "on-demand" && length(g.instance_types) == 1]))
    error_message = "role \"controller\" takes exactly one group with min_size = desired_size = max_size = 1, capacity \"on-demand\" and one instance type."
  }
}

variable "ami_ids" {
  description = "AMI per group name."
  type        = map(string)
}

variable "user_data" {
  description = "Rendered user data per group name (plain text; encoded here). Must not carry secrets."
  type        = map(string)

  validation {
    condition     = alltrue([for u in values(var.user_data) : length(base64encode(u)) <= 16384])
    error_message = "user_data must stay under AWS's 16 KB limit once base64-encoded, for every group."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the root volumes."
  type        = string
}

variable "instance_profile_name" {
  description = "IAM instance profile of the nodes."
  type        = string
}

variable "admin_cidrs" {
  description = "Controller role: CIDRs outside the VPC allowed to reach the API on 6443."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : !strcontains(c, ":") && try(cidrhost(c, 0) == split("/", c)[0], false)])
    error_message = "admin_cidrs must be IPv4 CIDRs without host bits, for example [\"203.0.113.10/32\", \"198.51.100.0/24\"]."
  }

  # api_vpc already admits the VPC; EC2 refuses an identical second rule.
  validation {
    condition     = !contains(var.admin_cidrs, var.vpc_cidr)
    error_message = "admin_cidrs must not list vpc_cidr: the control plane's security group already admits the VPC, and EC2 refuses an identical second rule."
  }
}

variable "target_group_arns" {
  description = "Worker role: target groups every ingress group's ASG registers its instances in (the NLB's http and https groups)."
  type        = list(string)
  default     = []
}

variable "nlb_security_group_id" {
  description = "Worker role: security group of the NLB, the only source admitted on the node ports (required for workers)."
  type        = string
  default     = ""

  validation {
    condition     = var.role != "worker" || var.nlb_security_group_id != ""
    error_message = "nlb_security_group_id is required for role \"worker\": the node ports admit only the NLB's security group."
  }
}

variable "node_ports" {
  description = "Worker role: node ports the NLB forwards to (HTTP and HTTPS of the ingress controller)."
  type        = list(number)
  default     = [30080, 30443]

  validation {
    condition     = alltrue([for p in var.node_ports : p >= 30000 && p <= 32767])
    error_message = "node_ports must be in the NodePort range 30000-32767."
  }
}

variable "extra_egress" {
  description = "Worker role: outbound rules added to kforge's own, for what the workloads reach beyond HTTPS (a database in the VPC, SMTP). Each is a protocol (tcp or udp), a port range and an IPv4 CIDR."
  type        = list(object({ cidr = string, protocol = string, from_port = number, to_port = number, description = string }))
  default     = []

  validation {
    condition     = alltrue([for r in var.extra_egress : !strcontains(r.cidr, ":") && try(cidrhost(r.cidr, 0) == split("/", r.cidr)[0], false)])
    error_message = "extra_egress: each cidr must be an IPv4 CIDR without host bits, for example 10.0.0.0/16."
  }
  validation {
    condition     = alltrue([for r in var.extra_egress : contains(["tcp", "udp"], r.protocol) && r.from_port >= 1 && r.from_port <= r.to_port && r.to_port <= 65535 && floor(r.from_port) == r.from_port && floor(r.to_port) == r.to_port])
    error_message = "extra_egress: protocol must be tcp or udp, and from_port to to_port a range of whole ports within 1-65535."
  }
  # EC2's rule description: at most 255 characters of a-zA-Z0-9, spaces and ._-:/()#,@[]+=&;{}!$*.
  validation {
    condition     = alltrue([for r in var.extra_egress : length(r.description) <= 255 && can(regex("^[a-zA-Z0-9. _:/()#,@+=&;{}!$*\\[\\]-]*$", r.description))])
    error_message = "extra_egress: a description is at most 255 characters of letters, digits, spaces and ._-:/()#,@[]+=&;{}!$* (EC2's rule description)."
  }
  # EC2 refuses a second identical rule (InvalidPermission.Duplicate).
  validation {
    condition     = length(distinct([for r in var.extra_egress : "${r.protocol}/${r.from_port}-${r.to_port}/${r.cidr}"])) == length(var.extra_egress)
    error_message = "extra_egress: two rules have the same protocol, ports and cidr."
  }
}

variable "peer_security_group_ids" {
  description = "Security groups of the other node groups (for workers, the control plane's); they may reach kubelet and the CNI ports, and workers reach the API on them."
  type        = list(string)
  default     = []
}

variable "wait_for_capacity_timeout" {
  description = "How long Terraform waits for each group's desired capacity, as a Go duration such as 10m (\"0\" disables the wait)."
  type        = string
  default     = "10m"

  validation {
    condition     = can(regex("^(0|([0-9]+(\\.[0-9]+)?(ns|us|µs|ms|s|m|h))+)$", var.wait_for_capacity_timeout))
    error_message = "wait_for_capacity_timeout must be a duration such as 10m or 1h30m, or \"0\" to disable the wait."
  }
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
