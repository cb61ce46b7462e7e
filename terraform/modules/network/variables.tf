variable "cluster_name" {
  description = "Name prefix of every resource (the cluster name)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.cluster_name)) && !strcontains(var.cluster_name, "--") && !can(regex("^(sg|internal|sthree|amzn-s3-demo)-", var.cluster_name))
    error_message = "cluster_name must be 3-20 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit, and not starting with sg-, internal-, sthree- or amzn-s3-demo- (prefixes EC2, Elastic Load Balancing and S3 refuse in the names derived from it), for example \"kforge-dev\"."
  }
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16 to /24). Every subnet is a /(prefix+4) carved from it: public subnets take the first blocks, private subnets start at block 8."
  type        = string
  default     = "10.0.0.0/16"

  validation {
    condition     = can(cidrhost(var.vpc_cidr, 0)) && try(cidrhost(var.vpc_cidr, 0) == split("/", var.vpc_cidr)[0], false) && try(tonumber(split("/", var.vpc_cidr)[1]) >= 16 && tonumber(split("/", var.vpc_cidr)[1]) <= 24, false)
    error_message = "vpc_cidr must be an IPv4 network address with a prefix between /16 and /24, for example 10.0.0.0/16."
  }
}

variable "az_count" {
  description = "Number of availability zones (1-6; one is for development: an AZ outage then stops the cluster); one public subnet (and one private subnet with nat_gateway) per zone."
  type        = number
  default     = 2

  validation {
    condition     = var.az_count >= 1 && var.az_count <= 6 && floor(var.az_count) == var.az_count
    error_message = "az_count must be a whole number between 1 and 6."
  }
}

variable "exclude_zone_ids" {
  description = "Availability Zone IDs (use1-az3) the VPC never uses; the first az_count of the other available zones, by name, get subnets."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for id in var.exclude_zone_ids : can(regex("^[a-z]{3,6}[1-9][0-9]?-az[1-9][0-9]?$", id))]) && length(distinct(var.exclude_zone_ids)) == length(var.exclude_zone_ids)
    error_message = "exclude_zone_ids must be distinct Availability Zone IDs such as use1-az3 (ZoneId in aws ec2 describe-availability-zones), not zone names."
  }
}

variable "nat_gateway" {
  description = "Create private subnets with one NAT gateway per zone for the nodes (~32 USD/month per gateway). false: nodes use the public subnets."
  type        = bool
  default     = false
}

variable "flow_logs" {
  description = "Record every accepted and rejected connection of the VPC (VPC flow logs, all traffic) in flow_logs_destination, in 10-minute batches."
  type        = bool
  default     = false
}

variable "flow_logs_destination" {
  description = "ARN of the S3 bucket receiving the flow logs (under vpc-flow-logs/); required with flow_logs."
  type        = string
  default     = ""

  validation {
    condition     = var.flow_logs_destination == "" || can(regex("^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", var.flow_logs_destination))
    error_message = "flow_logs_destination must be empty or an S3 bucket ARN such as arn:aws:s3:::my-logs."
  }
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}
