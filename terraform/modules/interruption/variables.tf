variable "cluster_name" {
  description = "Cluster name; prefixes the queue and rule names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,18}[a-z0-9]$", var.cluster_name)) && !strcontains(var.cluster_name, "--") && !can(regex("^(sg|internal|sthree|amzn-s3-demo)-", var.cluster_name))
    error_message = "cluster_name must be 3-20 characters: lowercase letters, digits and single hyphens, starting with a letter and ending with a letter or digit, and not starting with sg-, internal-, sthree- or amzn-s3-demo- (prefixes EC2, Elastic Load Balancing and S3 refuse in the names derived from it), for example \"kforge-dev\"."
  }
}

variable "message_retention_seconds" {
  description = "How long an event waits in the queue (60-1209600 s), at least lifecycle_heartbeat_seconds + 120. SQS deletes a message at its retention even while it is hidden, and the drainer hides a message it handles for the heartbeat, so a shorter retention would lose every event whose handling failed instead of delivering it again. null (the default): twice the heartbeat plus 600 s, two deliveries with room for a drainer restart (1800 s with the default heartbeat)."
  type        = number
  default     = null

  validation {
    condition     = var.message_retention_seconds == null || try(var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600 && var.message_retention_seconds >= var.lifecycle_heartbeat_seconds + 120, false)
    error_message = "message_retention_seconds must be between 60 and 1209600 (SQS limits) and at least lifecycle_heartbeat_seconds + 120, or null: a message whose handling failed comes back only after the heartbeat, and SQS deletes it at its retention."
  }
}

variable "worker_groups" {
  description = "Auto Scaling group name by worker pool (at least one): each gets the termination lifecycle hook, and the lifecycle rule matches their events."
  type        = map(string)

  validation {
    condition     = length(var.worker_groups) >= 1
    error_message = "worker_groups needs at least one group: the lifecycle rule's pattern lists them."
  }
}

variable "lifecycle_hook_name" {
  description = "Name of the termination lifecycle hook on every worker group (cluster.json lifecycle_hook_name, which the drainer answers)."
  type        = string
  default     = "kforge-drain"

  validation {
    condition     = can(regex("^[A-Za-z0-9_/-]{1,255}$", var.lifecycle_hook_name))
    error_message = "lifecycle_hook_name must be 1-255 letters, digits, hyphens, underscores or slashes (Auto Scaling's LifecycleHookName pattern)."
  }
}

variable "lifecycle_heartbeat_seconds" {
  description = "Heartbeat timeout of the hook (30-7200 s): how long a terminating worker waits to be drained before it terminates anyway (CONTINUE). The drainer stops draining a minute before it."
  type        = number
  default     = 600

  validation {
    condition     = var.lifecycle_heartbeat_seconds >= 30 && var.lifecycle_heartbeat_seconds <= 7200
    error_message = "lifecycle_heartbeat_seconds must be between 30 and 7200 (Auto Scaling's limits)."
  }
}

variable "tags" {
  description = "Tags applied to the queue and the rules."
  type        = map(string)
  default     = {}
}
