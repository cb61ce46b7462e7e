output "nlb_arn" {
  description = "ARN of the NLB."
  value       = aws_lb.this.arn
}

output "nlb_dns_name" {
  description = "DNS name of the NLB."
  value       = aws_lb.this.dns_name
}

output "nlb_zone_id" {
  description = "Route 53 zone id of the NLB, for alias records."
  value       = aws_lb.this.zone_id
}

output "security_group_id" {
  description = "Security group of the NLB; worker node ports admit only this group."
  value       = aws_security_group.nlb.id
}

output "target_group_arns" {
  description = "Target group ARNs by route: http (port 80 => http_node_port) and https (port 443 => https_node_port)."
  value       = { for k, tg in aws_lb_target_group.this : k => tg.arn }
}
