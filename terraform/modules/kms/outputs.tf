output "key_arn" {
  description = "ARN of the cluster key."
  value       = aws_kms_key.cluster.arn
}

output "key_id" {
  description = "Id of the cluster key."
  value       = aws_kms_key.cluster.key_id
}

output "alias_name" {
  description = "Alias of the cluster key (alias/<cluster_name>)."
  value       = aws_kms_alias.cluster.name
}
