output "controller_role_arn" {
  description = "ARN of the control-plane role."
  value       = aws_iam_role.controller.arn
}

output "controller_role_name" {
  description = "Name of the control-plane role."
  value       = aws_iam_role.controller.name
}

output "controller_instance_profile_name" {
  description = "Instance profile of the control-plane nodes."
  value       = aws_iam_instance_profile.controller.name

  # A node launched with the profile needs its role's policies attached.
  depends_on = [aws_iam_role_policy_attachment.this]
}

output "worker_role_arn" {
  description = "ARN of the worker role."
  value       = aws_iam_role.worker.arn
}

output "worker_role_name" {
  description = "Name of the worker role."
  value       = aws_iam_role.worker.name
}

output "worker_instance_profile_name" {
  description = "Instance profile of the workers."
  value       = aws_iam_instance_profile.worker.name

  # A node launched with the profile needs its role's policies attached.
  depends_on = [aws_iam_role_policy_attachment.this]
}

output "policy_arns" {
  description = "Policy ARN by name: controller, worker, cluster_autoscaler, efs_csi, node_drainer."
  value       = { for k, p in aws_iam_policy.this : k => p.arn }
}

output "policy_documents" {
  description = "Policy documents (JSON) by name, as attached."
  value       = { for k, d in local.documents : k => jsonencode(d) }
}
