variable "cluster_name" {
  description = "Cluster name; the key's alias is alias/<cluster_name>."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.cluster_name)) && !strcontains(var.cluster_name, "--") && !can(regex("^(sg|internal|sthree|amzn-s3-demo)-", var.cluster_name))
    error_message = "cluster_name must be 3-20 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit, and not starting with sg-, internal-, sthree- or amzn-s3-demo- (prefixes EC2, Elastic Load Balancing and S3 refuse in the names derived from it), for example \"kforge-dev\"."
  }
}

variable "deletion_window_in_days" {
  description = "Waiting period before a scheduled key deletion completes (7-30 days)."
  type        = number
  default     = 7

  validation {
    condition     = var.deletion_window_in_days >= 7 && var.deletion_window_in_days <= 30
    error_message = "deletion_window_in_days must be between 7 and 30."
  }
}

variable "create_autoscaling_service_linked_role" {
  description = "Create the account's AWSServiceRoleForAutoScaling here. false (the default): the role must exist (kforge creates it before Terraform runs), and is looked up. true only on an account without it: creating it when it exists fails with InvalidInput \"has been taken\", and destroying this stack deletes it, which AWS refuses while any Auto Scaling group of the account still uses it (the destroy then fails at that role: take it out of the state first with `terraform state rm 'aws_iam_service_linked_role.autoscaling[0]'`)."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Tags applied to the key."
  type        = map(string)
  default     = {}
}
