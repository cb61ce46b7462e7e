variable "cluster_name" {
  description = "Name prefix (the cluster name)."
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

variable "subnet_ids" {
  description = "One subnet per zone; each gets a mount target."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "KMS key encrypting the file system."
  type        = string
}

variable "client_security_group_ids" {
  description = "Security groups of the cluster nodes; the only sources admitted on NFS (2049)."
  type        = list(string)
}

variable "tags" {
  description = "Tags applied to every resource."
  type        = map(string)
  default     = {}
}

variable "backups" {
  description = "Turn on the file system's automatic backups (EFS backup policy ENABLED): AWS Backup's default EFS plan backs it up daily into aws/efs/automatic-backup-vault and keeps each recovery point 35 days. false: no policy, so backups stay off (EFS's default for a file system made through the API), and turning it off after on disables them."
  type        = bool
  default     = false
}

variable "enforce_tls" {
  description = "Apply the file system policy that refuses NFS connections without TLS (and grants clients through the mount targets the access EFS's default policy gives). Turn off only for an emulator that cannot delete a file system policy (moto answers DeleteFileSystemPolicy with an error)."
  type        = bool
  default     = true
}
