output "asg_names" {
  description = "Auto Scaling Group name by group."
  value       = { for k, asg in aws_autoscaling_group.this : k => asg.name }
}

output "asg_arns" {
  description = "Auto Scaling Group ARN by group."
  value       = { for k, asg in aws_autoscaling_group.this : k => asg.arn }
}

output "launch_template_ids" {
  description = "Launch template id by group."
  value       = { for k, lt in aws_launch_template.this : k => lt.id }
}

output "security_group_id" {
  description = "Security group shared by every node of this role."
  value       = aws_security_group.this.id
}
