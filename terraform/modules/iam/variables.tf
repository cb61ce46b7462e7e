variable "cluster_name" {
  description = "Cluster name; prefixes role and policy names and keys the Cluster Autoscaler tag condition."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.cluster_name)) && !strcontains(var.cluster_name, "--") && !can(regex("^(sg|internal|sthree|amzn-s3-demo)-", var.cluster_name))
    error_message = "cluster_name must be 3-20 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit, and not starting with sg-, internal-, sthree- or amzn-s3-demo- (prefixes EC2, Elastic Load Balancing and S3 refuse in the names derived from it), for example \"kforge-dev\"."
  }
}

variable "bucket_arn" {
  description = "ARN of the certs / bootstrap bucket."
  type        = string
}

variable "kms_key_arn" {
  description = "ARN of the cluster KMS key."
  type        = string
}

variable "zone_id" {
  description = "Route 53 hosted zone id holding api.<domain>; the control plane may change records in it only."
  type        = string
}

variable "api_record_name" {
  description = "The API record the control plane may UPSERT (api.<domain>), in Route 53's normalized form: lowercase, no trailing dot. It is the only record its role may change (route53:ChangeResourceRecordSetsNormalizedRecordNames, ...RecordTypes and ...Actions with ForAllValues:StringEquals)."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9_-]+(\\.[a-z0-9_-]+)+$", var.api_record_name))
    error_message = "api_record_name must be a lowercase DNS name without a trailing dot (Route 53 compares the normalized name), e.g. api.dev.example.com."
  }
}

variable "efs_file_system_arn" {
  description = "ARN of the cluster's EFS file system; the EFS CSI driver may create access points in it only."
  type        = string
}

variable "tags" {
  description = "Tags applied to every role, policy and instance profile."
  type        = map(string)
  default     = {}
}
