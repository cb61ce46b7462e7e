variable "cluster_name" {
  description = "Cluster name; prefixes the queue and rule names."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{2,19}$", var.cluster_name))
    error_message = "cluster_name must be 3-20 lowercase letters, digits or hyphens, starting with a letter."
  }
}

variable "message_retention_seconds" {
  description = "How long an event waits in the queue. An interruption warning is worth acting on for two minutes; 300 s leaves room for a handler restart."
  type        = number
  default     = 300

  validation {
    condition     = var.message_retention_seconds >= 60 && var.message_retention_seconds <= 1209600
    error_message = "message_retention_seconds must be between 60 and 1209600 (SQS limits)."
  }
}

variable "tags" {
  description = "Tags applied to the queue and the rules."
  type        = map(string)
  default     = {}
}
