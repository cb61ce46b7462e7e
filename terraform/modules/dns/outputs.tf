output "zone_id" {
  description = "Id of the hosted zone (created or given)."
  value       = local.zone_id
}

output "name_servers" {
  description = "Name servers of the zone, to delegate the domain to at the registrar."
  value       = local.name_servers
}

output "api_zone_id" {
  description = "Id of the private hosted zone api.<domain>, attached to the VPC; the control plane upserts its address there."
  value       = aws_route53_zone.api.zone_id
}

output "api_zone_vpc_ids" {
  description = "VPCs the api.<domain> zone is attached to (one on AWS; none for an emulator)."
  value       = [for v in aws_route53_zone.api.vpc : v.vpc_id]
}

output "api_dns_name" {
  description = "DNS name of the Kubernetes API (api.<domain>)."
  value       = aws_route53_record.api.fqdn
}
