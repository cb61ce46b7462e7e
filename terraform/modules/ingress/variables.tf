variable "cluster_name" {
  description = "Name prefix (the cluster name, at most 20 characters so the NLB name stays within 32)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.cluster_name)) && !strcontains(var.cluster_name, "--") && !can(regex("^(sg|internal|sthree|amzn-s3-demo)-", var.cluster_name))
    error_message = "cluster_name must be 3-20 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit, and not starting with sg-, internal-, sthree- or amzn-s3-demo- (prefixes EC2, Elastic Load Balancing and S3 refuse in the names derived from it), for example \"kforge-dev\"."
  }
}

variable "vpc_id" {
  description = "Id of the VPC."
  type        = string
}

variable "vpc_cidr" {
  description = "CIDR of the VPC; the NLB's security group may only send to it."
  type        = string

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(cidrhost(var.vpc_cidr, 0) == split("/", var.vpc_cidr)[0], false) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 network address with a prefix between /16 and /24, for example 10.0.0.0/16."
  }
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
  description = "Client CIDRs allowed to reach ports 80 and 443, and to send ICMP fragmentation needed (path MTU discovery): IPv4, without host bits, at least one."
  type        = list(string)
  default     = ["0.0.0.0/0"]

  validation {
    condition     = length(var.ingress_cidrs) > 0 && alltrue([for c in var.ingress_cidrs : can(cidrnetmask(c)) && try(cidrsubnet(c, 0, 0) == c, false)])
    error_message = "ingress_cidrs must hold at least one IPv4 CIDR without host bits, such as 0.0.0.0/0 or 203.0.113.0/24."
  }
}

variable "deregistration_delay" {
  description = "Seconds a deregistered target drains: the NLB sends it no new connection meanwhile, and established connections go on (connection termination is off, so the NLB does not close them when the time ends). 0-3600."
  type        = number
  default     = 30

  validation {
    condition     = var.deregistration_delay >= 0 && var.deregistration_delay <= 3600 && floor(var.deregistration_delay) == var.deregistration_delay
    error_message = "deregistration_delay must be a whole number of seconds between 0 and 3600 (Elastic Load Balancing's range)."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
