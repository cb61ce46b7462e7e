output "queue_url" {
  description = "URL of the node events queue, read by the control plane's drainer (cluster.json node_events_queue_url)."
  value       = aws_sqs_queue.events.id
}

output "queue_arn" {
  description = "ARN of the node events queue (for the reader's IAM policy)."
  value       = aws_sqs_queue.events.arn
}

output "rule_names" {
  description = "EventBridge rule names by event kind."
  value       = { for k, r in aws_cloudwatch_event_rule.this : k => r.name }
}

output "lifecycle_hook_name" {
  description = "Name of the termination lifecycle hook on every worker group."
  value       = var.lifecycle_hook_name
}

output "lifecycle_heartbeat_seconds" {
  description = "Heartbeat timeout of the termination lifecycle hook, in seconds."
  value       = var.lifecycle_heartbeat_seconds
}

output "hooked_groups" {
  description = "Auto Scaling group names that carry the termination lifecycle hook."
  value       = sort([for h in aws_autoscaling_lifecycle_hook.drain : h.autoscaling_group_name])
}
