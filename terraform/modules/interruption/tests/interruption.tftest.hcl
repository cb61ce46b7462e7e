# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  cluster_name  = "kforge-test"
  worker_groups = { general = "kforge-test-general", spot = "kforge-test-spot" }
  tags          = { "kforge.io/cluster" = "kforge-test" }
}

run "queue_and_rules" {
  command = apply

  assert {
    condition     = aws_sqs_queue.events.sqs_managed_sse_enabled && aws_sqs_queue.events.message_retention_seconds == 1800 && aws_sqs_queue.events.name == "kforge-test-node-events"
    error_message = "encrypted queue named after the cluster, events kept twice the heartbeat plus 10 minutes"
  }
  assert {
    condition     = toset(keys(aws_cloudwatch_event_rule.this)) == toset(["lifecycle", "spot-interruption", "rebalance", "state-change", "scheduled-change"])
    error_message = "one rule per event kind the drainer acts on"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["lifecycle"].event_pattern) == { source = ["aws.autoscaling"], "detail-type" = ["EC2 Instance-terminate Lifecycle Action"], detail = { AutoScalingGroupName = ["kforge-test-general", "kforge-test-spot"] } }
    error_message = "the lifecycle rule takes the terminate actions of this cluster's worker groups only"
  }
  assert {
    condition = alltrue([for k, h in aws_autoscaling_lifecycle_hook.drain :
      h.name == "kforge-drain" && h.autoscaling_group_name == "kforge-test-${k}" && h.lifecycle_transition == "autoscaling:EC2_INSTANCE_TERMINATING" && h.default_result == "CONTINUE" && h.heartbeat_timeout == 600
    ]) && length(aws_autoscaling_lifecycle_hook.drain) == 2
    error_message = "every worker group gets a termination hook that continues after 600 s unanswered"
  }
  assert {
    condition     = jsondecode(aws_cloudwatch_event_rule.this["spot-interruption"].event_pattern)["detail-type"] == ["EC2 Spot Instance Interruption Warning"] && jsondecode(aws_cloudwatch_event_rule.this["rebalance"].event_pattern)["detail-type"] == ["EC2 Instance Rebalance Recommendation"]
    error_message = "Spot interruption and rebalance patterns"
  }
  assert {
    condition     = [for s in jsondecode(aws_sqs_queue_policy.events.policy).Statement : "${s.Effect}:${jsonencode(s.Principal)}"] == ["Allow:{\"Service\":\"events.amazonaws.com\"}", "Deny:\"*\""]
    error_message = "only EventBridge sends; no request without TLS"
  }
  assert {
    condition     = alltrue([for t in aws_cloudwatch_event_target.queue : t.arn == aws_sqs_queue.events.arn])
    error_message = "every rule targets the queue"
  }
}

run "rejects_heartbeat_outside_auto_scaling_limits" {
  command = plan

  variables {
    lifecycle_heartbeat_seconds = 7201
  }

  expect_failures = [var.lifecycle_heartbeat_seconds]
}

run "rejects_no_group" {
  command = plan

  variables {
    worker_groups = {}
  }

  expect_failures = [var.worker_groups]
}

run "rejects_short_retention" {
  command = plan

  variables {
    message_retention_seconds = 30
  }

  expect_failures = [var.message_retention_seconds]
}

# SQS deletes a message at its retention even while it is hidden; the
# drainer hides one for the heartbeat, so a failed event must outlive it.
run "rejects_retention_within_the_heartbeat" {
  command = plan

  variables {
    message_retention_seconds   = 600
    lifecycle_heartbeat_seconds = 600
  }

  expect_failures = [var.message_retention_seconds]
}

run "retention_follows_the_heartbeat" {
  command = plan

  variables {
    lifecycle_heartbeat_seconds = 3600
  }

  assert {
    condition     = aws_sqs_queue.events.message_retention_seconds == 7800
    error_message = "null retention is twice the heartbeat plus 600 s"
  }
}

# Auto Scaling's LifecycleHookName pattern is [A-Za-z0-9\-_\/]+: no dot.
run "rejects_hook_name_with_a_dot" {
  command = plan

  variables {
    lifecycle_hook_name = "kforge.drain"
  }

  expect_failures = [var.lifecycle_hook_name]
}
