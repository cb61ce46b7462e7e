variable "domain" {
  description = "DNS domain of the cluster, for example dev.example.com."
  type        = string

  validation {
    condition     = can(regex("^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\\.)+[a-z]{2,63}$", var.domain)) && length(var.domain) <= 240
    error_message = "domain must be a lowercase DNS name with at least two labels and no trailing dot, for example dev.example.com."
  }
}

variable "zone_id" {
  description = "Existing public hosted zone id for the domain. Empty: a new zone is created."
  type        = string
  default     = ""
}

variable "ns_ttl" {
  description = "TTL in seconds of the created zone's own NS set, instead of Route 53's 172800: how long resolvers may keep asking the name servers of a zone that was deleted and created again (with new ones)."
  type        = number
  default     = 900

  validation {
    condition     = var.ns_ttl >= 60 && var.ns_ttl <= 172800 && floor(var.ns_ttl) == var.ns_ttl
    error_message = "ns_ttl must be a whole number of seconds from 60 to 172800."
  }
}

variable "nlb_dns_name" {
  description = "DNS name of the NLB the apex and wildcard records alias."
  type        = string
}

variable "nlb_zone_id" {
  description = "Route 53 zone id of the NLB."
  type        = string
}

variable "vpc_id" {
  description = "VPC the private zone holding api.<domain> is attached to (its resolver answers the nodes)."
  type        = string
}

variable "api_zone_private" {
  description = "Attach the api.<domain> zone to the VPC, which makes it private. false only for an emulator: moto creates a public zone and drops the VPC unless the request also sets PrivateZone, which the provider does not send, so every later plan would want to add the VPC again."
  type        = bool
  default     = true
}

variable "api_seed_address" {
  description = "Address api.<domain> is created with. The control plane overwrites the record with its own address when it boots, and Terraform ignores later changes to it."
  type        = string
}

variable "force_destroy" {
  description = "Let terraform destroy delete a created zone together with records Terraform does not manage."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to the zones this module creates; Route 53 takes at most 10 a zone. The root module passes kforge's own two, through a provider without default tags."
  type        = map(string)
  default     = {}

  validation {
    condition     = length(var.tags) <= 10
    error_message = "tags: Route 53 takes at most 10 tags on a hosted zone."
  }
}
