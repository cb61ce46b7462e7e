variable "cluster_name" {
  description = "Cluster name; the bucket is <cluster_name>-certs-<account_id>-<region>, trimmed to 63 characters."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.cluster_name)) && !strcontains(var.cluster_name, "--") && !can(regex("^(sg|internal|sthree|amzn-s3-demo)-", var.cluster_name))
    error_message = "cluster_name must be 3-20 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit, and not starting with sg-, internal-, sthree- or amzn-s3-demo- (prefixes EC2, Elastic Load Balancing and S3 refuse in the names derived from it), for example \"kforge-dev\"."
  }
}

variable "kms_key_arn" {
  description = "KMS key for SSE-KMS (bucket key on)."
  type        = string
}

variable "force_destroy" {
  description = "Let terraform destroy delete the bucket with every object version in it."
  type        = bool
  default     = false
}

variable "enforce_tls_and_sse" {
  description = "Add the bucket-policy statements denying non-TLS requests and uploads without SSE-KMS. Turn off only for an emulator that cannot evaluate policy conditions (moto denies every conditional request)."
  type        = bool
  default     = true
}

variable "noncurrent_version_expiration_days" {
  description = "Days after which a replaced or deleted object version is removed."
  type        = number
  default     = 30

  validation {
    condition     = var.noncurrent_version_expiration_days >= 1
    error_message = "noncurrent_version_expiration_days must be at least 1."
  }
}

variable "noncurrent_versions_kept" {
  description = "Replaced or deleted versions of each object kept whatever their age (the newest ones), so that an agent binary a launch template still pins after an apply that stopped half-way is never removed; older versions go after noncurrent_version_expiration_days. Under controller/etcd/ the snapshots' own rule removes them sooner. null leaves the setting out, for an emulator that does not keep it (moto drops it, and the provider would wait for it)."
  type        = number
  default     = 3

  validation {
    condition     = var.noncurrent_versions_kept == null || try(var.noncurrent_versions_kept >= 1 && var.noncurrent_versions_kept <= 100 && floor(var.noncurrent_versions_kept) == var.noncurrent_versions_kept, false)
    error_message = "noncurrent_versions_kept must be a whole number from 1 to 100 (S3's NewerNoncurrentVersions), or null."
  }
}

variable "etcd_snapshot_retention_days" {
  description = "Days the etcd snapshots under controller/etcd/history/ are kept: one per backup, every 15 minutes by default (the latest snapshot has its own key and is kept)."
  type        = number
  default     = 14

  validation {
    condition     = var.etcd_snapshot_retention_days >= 1
    error_message = "etcd_snapshot_retention_days must be at least 1."
  }
}

variable "etcd_snapshot_noncurrent_version_expiration_days" {
  description = "Days after which a replaced or expired version under controller/etcd/ is removed: the etcd snapshots latest.db replaced at every backup and the history past etcd_snapshot_retention_days. At most noncurrent_version_expiration_days, which the rest of the bucket keeps."
  type        = number
  default     = 1

  validation {
    condition     = var.etcd_snapshot_noncurrent_version_expiration_days >= 1 && var.etcd_snapshot_noncurrent_version_expiration_days <= var.noncurrent_version_expiration_days
    error_message = "etcd_snapshot_noncurrent_version_expiration_days must be at least 1 and at most noncurrent_version_expiration_days (S3 honors the shorter of the two)."
  }
}

variable "log_bucket" {
  description = "Create the log bucket (<cluster_name>-logs-<account_id>-<region>) that receives VPC flow logs and the certs bucket's access logs: SSE-S3, private, TLS-only, objects expire after log_retention_days."
  type        = bool
  default     = false
}

variable "access_logs" {
  description = "Send S3 server access logs of the certs bucket to the log bucket, under s3-access/certs/ (needs log_bucket)."
  type        = bool
  default     = false

  validation {
    condition     = !var.access_logs || var.log_bucket
    error_message = "access_logs needs log_bucket = true: the access logs are written to the log bucket."
  }
}

variable "log_retention_days" {
  description = "Days the log bucket keeps its objects (1-3650)."
  type        = number
  default     = 90

  validation {
    condition     = var.log_retention_days >= 1 && var.log_retention_days <= 3650
    error_message = "log_retention_days must be between 1 and 3650."
  }
}

variable "tags" {
  description = "Tags applied to the bucket."
  type        = map(string)
  default     = {}
}
