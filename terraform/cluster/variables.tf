# Inputs of the root module. kforge renders these from envs/<env>.yaml
# (internal/config); a Terraform user can set them directly.
# CONTRACT: names and types here are shared with internal/config's renderer.

variable "cluster_name" {
  description = "Name of the cluster: lowercase letters, digits and hyphens, 3-20 characters, starting with a letter. Prefixes every resource name (NLB names are limited to 32 characters, bucket names to 63)."
  type        = string
}

variable "environment" {
  description = "Environment this cluster belongs to (dev, staging, prod or local)."
  type        = string
}

variable "region" {
  description = "AWS region, for example eu-west-1."
  type        = string
}

variable "az_count" {
  description = "Number of availability zones to spread subnets, the NLB, EFS mount targets and workers over (2-6)."
  type        = number
  default     = 2
}

variable "domain" {
  description = "DNS domain of the cluster, for example dev.example.com. Apex and wildcard records point at the NLB; api.<domain> points at the control plane."
  type        = string
}

variable "dns_zone_id" {
  description = "Existing Route 53 hosted zone id for the domain. Empty: a new public zone is created (and its name servers are an output, for delegation at the registrar)."
  type        = string
  default     = ""
}

variable "vpc_cidr" {
  description = "IPv4 CIDR of the VPC (/16 to /24). Subnets are carved from it."
  type        = string
  default     = "10.0.0.0/16"
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
}

variable "kubernetes_version" {
  description = "Kubernetes version installed by the node agent, as MAJOR.MINOR.PATCH (for example 1.36.2)."
  type        = string
}

variable "pod_cidr" {
  description = "Pod network CIDR (must not overlap the VPC or service CIDR)."
  type        = string
  default     = "10.244.0.0/16"
}

variable "service_cidr" {
  description = "Kubernetes service CIDR (must not overlap the VPC or pod CIDR)."
  type        = string
  default     = "10.96.0.0/12"
}

variable "ami_id" {
  description = "AMI for every node. Empty: the latest Amazon Linux 2023 AMI for the instance architecture, looked up from the public SSM parameter."
  type        = string
  default     = ""
}

variable "controller_instance_type" {
  description = "EC2 instance type of the control-plane node (vertical scaling)."
  type        = string
  default     = "t3.medium"
}

variable "controller_volume_size" {
  description = "Root volume size of the control-plane node in GiB."
  type        = number
  default     = 30
}

variable "worker_pools" {
  description = "Worker pools by name. Each pool is a launch template and an Auto Scaling Group spread over all AZs; Cluster Autoscaler owns desired_size after creation."
  type = map(object({
    instance_types = list(string)
    min_size       = number
    desired_size   = number
    max_size       = number
    volume_size    = optional(number, 30)
    labels         = optional(map(string), {})
    taints         = optional(list(string), []) # key=value:Effect
  }))
}

variable "http_node_port" {
  description = "NodePort the ingress controller listens on for HTTP; the NLB's port 80 forwards to it."
  type        = number
  default     = 30080
}

variable "https_node_port" {
  description = "NodePort the ingress controller listens on for HTTPS; the NLB's port 443 forwards to it."
  type        = number
  default     = 30443
}

variable "acme_email" {
  description = "E-mail address given to Let's Encrypt by cert-manager's ClusterIssuers."
  type        = string
}

variable "agent_binary_path" {
  description = "Local path of the linux kforge binary uploaded to the bootstrap prefix of the certs bucket; nodes fetch it and check its SHA-256 before running it."
  type        = string
}

variable "node_config" {
  description = "Non-secret node agent configuration (JSON), uploaded next to the agent. Bucket, zone and EFS ids are merged in by this module."
  type        = string
  default     = "{}"
}

variable "certs_bucket_force_destroy" {
  description = "Let `terraform destroy` delete the certs bucket together with the PKI backups and join material the control plane wrote into it."
  type        = bool
  default     = true
}

variable "aws_endpoint_url" {
  description = "Base URL of an AWS-compatible emulator (for example http://127.0.0.1:5000). Empty on real AWS. When set, every service endpoint points there and the bucket policy's TLS-only condition is left out, because the emulator cannot evaluate conditions."
  type        = string
  default     = ""
}

variable "tags" {
  description = "Extra tags applied to every resource."
  type        = map(string)
  default     = {}
}
