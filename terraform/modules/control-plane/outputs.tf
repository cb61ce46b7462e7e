output "asg_name" {
  description = "Name of the control plane's Auto Scaling Group."
  value       = aws_autoscaling_group.controller.name
}

output "asg_arn" {
  description = "ARN of the control plane's Auto Scaling Group."
  value       = aws_autoscaling_group.controller.arn
}

output "launch_template_id" {
  description = "Id of the control plane's launch template."
  value       = aws_launch_template.controller.id
}

output "security_group_id" {
  description = "Security group of the control-plane node."
  value       = aws_security_group.controller.id
}
