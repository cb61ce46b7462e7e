output "file_system_id" {
  description = "Id of the EFS file system."
  value       = aws_efs_file_system.this.id
}

output "file_system_arn" {
  description = "ARN of the EFS file system."
  value       = aws_efs_file_system.this.arn
}

output "dns_name" {
  description = "DNS name of the file system."
  value       = aws_efs_file_system.this.dns_name
}

output "mount_target_ids" {
  description = "Mount target ids, in subnet order."
  value       = aws_efs_mount_target.this[*].id
}

output "security_group_id" {
  description = "Security group of the mount targets."
  value       = aws_security_group.efs.id
}

output "policy_json" {
  description = "The file system policy with the placeholder $${FILE_SYSTEM_ARN} for the file system's ARN (applied only when enforce_tls is true)."
  value       = local.file_system_policy
}

output "backups_enabled" {
  description = "Whether the file system's automatic backups are on (its backup policy ENABLED)."
  value       = var.backups
}

output "policy_enforced" {
  description = "Whether the TLS-only file system policy is applied."
  value       = var.enforce_tls
}
