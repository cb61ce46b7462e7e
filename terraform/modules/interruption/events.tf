locals {
  # What the drainer acts on (the events queue-mode NTH reads, too). The
  # lifecycle rule names this cluster's groups; EC2 and Health events carry
  # no cluster tag, so those rules take every instance of the account and
  # region, and the drainer ignores instances that are not its nodes.
  rules = {
    lifecycle = {
      description = "termination lifecycle actions of the worker groups (hook ${var.lifecycle_hook_name})"
      pattern = {
        source        = ["aws.autoscaling"]
        "detail-type" = ["EC2 Instance-terminate Lifecycle Action"]
        detail        = { AutoScalingGroupName = sort(values(var.worker_groups)) }
      }
    }
    spot-interruption = {
      description = "EC2 Spot interruption warnings (two minutes ahead)"
      pattern     = { source = ["aws.ec2"], "detail-type" = ["EC2 Spot Instance Interruption Warning"] }
    }
    rebalance = {
      description = "EC2 rebalance recommendations (a Spot instance at elevated risk)"
      pattern     = { source = ["aws.ec2"], "detail-type" = ["EC2 Instance Rebalance Recommendation"] }
    }
    state-change = {
      description = "EC2 instance state changes (stopping, terminated)"
      pattern     = { source = ["aws.ec2"], "detail-type" = ["EC2 Instance State-change Notification"] }
    }
    scheduled-change = {
      description = "AWS Health scheduled changes to EC2 instances (retirement, maintenance)"
      pattern     = { source = ["aws.health"], "detail-type" = ["AWS Health Event"], detail = { service = ["EC2"], eventTypeCategory = ["scheduledChange"] } }
    }
  }
}

resource "aws_cloudwatch_event_rule" "this" {
  for_each = local.rules

  name          = "${var.cluster_name}-${each.key}"
  description   = "kforge ${var.cluster_name}: ${each.value.description}"
  event_pattern = jsonencode(each.value.pattern)
  tags          = var.tags
}

resource "aws_cloudwatch_event_target" "queue" {
  for_each = local.rules

  rule      = aws_cloudwatch_event_rule.this[each.key].name
  target_id = "node-events"
  arn       = aws_sqs_queue.events.arn
}
