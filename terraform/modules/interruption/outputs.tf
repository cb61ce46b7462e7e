output "queue_url" {
  description = "URL of the node events queue (NTH's --queue-url)."
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
