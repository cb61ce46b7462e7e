output "asg_names" {
  description = "Auto Scaling Group name by pool."
  value       = { for k, asg in aws_autoscaling_group.pool : k => asg.name }
}

output "asg_arns" {
  description = "Auto Scaling Group ARN by pool."
  value       = { for k, asg in aws_autoscaling_group.pool : k => asg.arn }
}

output "launch_template_ids" {
  description = "Launch template id by pool."
  value       = { for k, lt in aws_launch_template.pool : k => lt.id }
}

output "security_group_id" {
  description = "Security group shared by every worker."
  value       = aws_security_group.workers.id
}
