output "cluster_name" {
  description = "Name of the cluster."
  value       = var.cluster_name
}

output "environment" {
  description = "Environment of the cluster."
  value       = var.environment
}

output "region" {
  description = "AWS region of the cluster."
  value       = var.region
}

output "vpc_id" {
  description = "Id of the cluster VPC."
  value       = module.network.vpc_id
}

output "nlb_dns_name" {
  description = "DNS name of the ingress NLB."
  value       = module.ingress.nlb_dns_name
}

output "nlb_arn" {
  description = "ARN of the ingress NLB."
  value       = module.ingress.nlb_arn
}

output "target_group_arns" {
  description = "NLB target group ARNs: http (80 => http_node_port) and https (443 => https_node_port)."
  value       = module.ingress.target_group_arns
}

output "zone_id" {
  description = "Route 53 hosted zone id of the domain."
  value       = module.dns.zone_id
}

output "api_zone_id" {
  description = "Private hosted zone of api.<domain>, attached to the VPC."
  value       = module.dns.api_zone_id
}

output "name_servers" {
  description = "Name servers of the zone, to set at the registrar."
  value       = module.dns.name_servers
}

output "api_dns_name" {
  description = "DNS name of the Kubernetes API (api.<domain>)."
  value       = "api.${var.domain}"
}

output "api_endpoint" {
  description = "URL of the Kubernetes API."
  value       = "https://api.${var.domain}:6443"
}

output "certs_bucket" {
  description = "Name of the certs / bootstrap bucket."
  value       = module.buckets.bucket_name
}

output "controller_asg_name" {
  description = "Name of the control plane's Auto Scaling Group."
  value       = module.control_plane.asg_names[local.controller_group]
}

output "worker_asg_names" {
  description = "Auto Scaling Group name by worker pool."
  value       = module.workers.asg_names
}

output "efs_id" {
  description = "Id of the EFS file system."
  value       = module.storage.file_system_id
}

output "kms_key_arn" {
  description = "ARN of the cluster KMS key."
  value       = module.kms.key_arn
}

output "controller_role_arn" {
  description = "ARN of the control-plane IAM role."
  value       = module.iam.controller_role_arn
}

output "worker_role_arn" {
  description = "ARN of the worker IAM role."
  value       = module.iam.worker_role_arn
}

output "emulated" {
  description = "True when the cluster targets an AWS emulator (aws_endpoint_url set)."
  value       = local.emulated
}

output "notes" {
  description = "Deviations from the real-AWS configuration, if any."
  value = local.emulated ? concat([
    "certs bucket policy (deny non-TLS access, deny uploads without SSE-KMS) left out: the emulator treats every policy condition as unmet",
    "api.<domain> zone not attached to the VPC (so public): the emulator drops the VPC of a zone created the way the provider creates private zones",
    "EFS file system policy (deny NFS without TLS) left out: the emulator cannot delete a file system policy, so the cluster could not be destroyed",
    ], var.efs_backups ? [
    "EFS automatic backups (efs_backups) left out: the emulator has no PutBackupPolicy",
  ] : []) : []
}

output "amis" {
  description = "AMI each node group's launch template boots (control plane and every worker pool); pinned in state or by ami_id, so a new Amazon Linux release changes none of them."
  value       = merge({ (local.controller_group) = local.controller_ami }, local.pool_ami)
}

output "node_events_queue_url" {
  description = "SQS queue of the worker groups' termination lifecycle actions and of EC2 Spot interruption, rebalance, state-change and scheduled-change events, read by the control plane's drainer."
  value       = module.interruption.queue_url
}

output "kubernetes_version" {
  description = "Kubernetes version the nodes install (cluster.json and every launch template's user data); `kforge upgrade` compares its --to with it."
  value       = var.kubernetes_version
}

output "pod_cidr" {
  description = "Pod network range in cluster.json; a running cluster cannot change it, so `kforge up` refuses a plan that does."
  value       = var.pod_cidr
}

output "service_cidr" {
  description = "Service network range in cluster.json; a running cluster cannot change it, so `kforge up` refuses a plan that does."
  value       = var.service_cidr
}

output "kforge_version" {
  description = "The kforge build of the last apply (the kforge_version input); an older kforge release refuses to apply over it, as kOps does for its own version."
  value       = var.kforge_version
}
