variable "cluster_name" {
  description = "Name prefix (the cluster name, at most 20 characters so the NLB name stays within 32)."
  type        = string

  validation {
    condition     = length(var.cluster_name) <= 20
    error_message = "cluster_name must be at most 20 characters (NLB and target group names are limited to 32)."
  }
}

variable "vpc_id" {
  description = "Id of the VPC."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; the NLB's security group may only send to it."
  type        = string
}

variable "subnet_ids" {
  description = "Public subnets, one per zone, the NLB is placed in."
  type        = list(string)
}

variable "http_node_port" {
  description = "NodePort behind listener 80."
  type        = number
  default     = 30080

  validation {
    condition     = var.http_node_port >= 30000 && var.http_node_port <= 32767
    error_message = "http_node_port must be in the NodePort range 30000-32767."
  }
}

variable "https_node_port" {
  description = "NodePort behind listener 443."
  type        = number
  default     = 30443

  validation {
    condition     = var.https_node_port >= 30000 && var.https_node_port <= 32767 && var.https_node_port != var.http_node_port
    error_message = "https_node_port must be in the NodePort range 30000-32767 and differ from http_node_port."
  }
}

variable "ingress_cidrs" {
  description = "Client CIDRs allowed to reach ports 80 and 443."
  type        = list(string)
  default     = ["0.0.0.0/0"]
}

variable "deregistration_delay" {
  description = "Seconds a draining target keeps its connections."
  type        = number
  default     = 30
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
