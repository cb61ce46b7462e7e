variable "cluster_name" {
  description = "Cluster name; prefixes every resource name."
  type        = string
}

variable "vpc_id" {
  description = "Id of the VPC."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; it may reach the API on 6443."
  type        = string
}

variable "subnet_ids" {
  description = "Subnets, one per zone, the ASG may place the control-plane node in."
  type        = list(string)
}

variable "admin_cidrs" {
  description = "CIDRs outside the VPC allowed to reach the API on 6443."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.admin_cidrs : can(cidrhost(c, 0))])
    error_message = "admin_cidrs must all be valid IPv4 CIDRs, for example 203.0.113.10/32."
  }
}

variable "peer_security_group_ids" {
  description = "Security groups of the other cluster nodes (the workers); they may reach kubelet and the CNI ports."
  type        = list(string)
  default     = []
}

variable "ami_id" {
  description = "AMI of the control-plane node."
  type        = string
}

variable "instance_type" {
  description = "EC2 instance type of the control-plane node."
  type        = string
  default     = "t3.medium"
}

variable "volume_size" {
  description = "Root volume size in GiB."
  type        = number
  default     = 30

  validation {
    condition     = var.volume_size >= 20
    error_message = "volume_size must be at least 20 GiB."
  }
}

variable "kms_key_arn" {
  description = "KMS key encrypting the root volume."
  type        = string
}

variable "instance_profile_name" {
  description = "IAM instance profile of the control-plane node."
  type        = string
}

variable "user_data" {
  description = "Rendered user data (plain text; encoded here). Must not carry secrets."
  type        = string

  validation {
    condition     = length(base64encode(var.user_data)) <= 16384
    error_message = "user_data must stay under AWS's 16 KB limit once base64-encoded."
  }
}

variable "detailed_monitoring" {
  description = "Enable 1-minute CloudWatch metrics for the instance (extra cost)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to every resource, and propagated to the instance and its volume."
  type        = map(string)
  default     = {}
}
