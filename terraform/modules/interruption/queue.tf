# The node events queue the control plane's drainer reads (kforge node
# drain-events; AWS Node Termination Handler in queue mode reads the same
# events): Auto Scaling lifecycle actions, EC2 and AWS Health events about
# the cluster's instances arrive here through the EventBridge rules in
# events.tf. Encrypted with SQS-managed keys, which EventBridge can write to
# without a key policy grant, and the drainer read without a KMS grant.
resource "aws_sqs_queue" "events" {
  name                      = "${var.cluster_name}-node-events"
  message_retention_seconds = coalesce(var.message_retention_seconds, 2 * var.lifecycle_heartbeat_seconds + 600)
  sqs_managed_sse_enabled   = true
  tags                      = var.tags
}

# Only EventBridge, and only for this module's rules, may send; nothing
# may use the queue without TLS.
resource "aws_sqs_queue_policy" "events" {
  queue_url = aws_sqs_queue.events.id
  policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "EventBridgeRules"
        Effect    = "Allow"
        Principal = { Service = "events.amazonaws.com" }
        Action    = "sqs:SendMessage"
        Resource  = aws_sqs_queue.events.arn
        Condition = { ArnEquals = { "aws:SourceArn" = [for r in aws_cloudwatch_event_rule.this : r.arn] } }
      },
      {
        Sid       = "TLSOnly"
        Effect    = "Deny"
        Principal = "*"
        Action    = "sqs:*"
        Resource  = aws_sqs_queue.events.arn
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}
