# A termination lifecycle hook on every worker group: Auto Scaling holds a
# terminating instance in Terminating:Wait and sends an "EC2
# Instance-terminate Lifecycle Action" event (rule "lifecycle" in
# events.tf), so the control plane's drainer can drain the node, delete its
# Node object and complete the action before the instance goes. A hook
# nobody answers times out after the heartbeat and continues: it can delay
# a termination, never block one.
#
# The control plane's own group has none: the drainer runs on it, so when
# that instance terminates the drainer is stopping with it; a hook would
# only hold the instance for the heartbeat timeout (and draining the only
# control plane has nowhere to send its pods).
resource "aws_autoscaling_lifecycle_hook" "drain" {
  for_each = var.worker_groups

  name                   = var.lifecycle_hook_name
  autoscaling_group_name = each.value
  lifecycle_transition   = "autoscaling:EC2_INSTANCE_TERMINATING"
  heartbeat_timeout      = var.lifecycle_heartbeat_seconds
  default_result         = "CONTINUE"

  # Emulator concession (docs/EMULATOR-NOTES.md): moto describes every hook
  # with a placeholder notification target and role, so without this every
  # plan would want to remove them. kforge sets neither; on AWS the cost is
  # that one added by hand outside Terraform would stay.
  lifecycle {
    ignore_changes = [notification_target_arn, role_arn]
  }
}
