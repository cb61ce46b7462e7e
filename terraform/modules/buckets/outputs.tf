# Objects written before versioning takes effect get no version id (the
# launch templates pin the agent's), and before the encryption or policy
# they escape them: whatever writes through this name waits for the settings.
output "bucket_name" {
  description = "Name of the certs / bootstrap bucket; depends on its versioning, encryption, ownership, public access block and policy, so objects written with it are created after them."
  value       = aws_s3_bucket.certs.id

  depends_on = [
    aws_s3_bucket_versioning.certs,
    aws_s3_bucket_server_side_encryption_configuration.certs,
    aws_s3_bucket_ownership_controls.certs,
    aws_s3_bucket_public_access_block.certs,
    aws_s3_bucket_policy.certs,
  ]
}

output "bucket_arn" {
  description = "ARN of the certs / bootstrap bucket."
  value       = aws_s3_bucket.certs.arn
}

output "policy_json" {
  description = "The bucket policy document (applied only when enforce_tls_and_sse is true)."
  value       = jsonencode(local.policy)
}

output "noncurrent_versions_kept" {
  description = "The newest noncurrent versions of each object kept whatever their age; null when the setting is left out (an emulator)."
  value       = var.noncurrent_versions_kept
}

output "policy_enforced" {
  description = "Whether the TLS-only and SSE-KMS deny statements are applied."
  value       = var.enforce_tls_and_sse
}

# A flow log created before the bucket policy admits the log delivery
# service makes AWS write its own policy to the bucket, so whatever takes
# this ARN (the VPC flow log) waits for the policy.
output "log_bucket_arn" {
  description = "ARN of the log bucket (flow logs under vpc-flow-logs/, access logs under s3-access/certs/); depends on the log bucket policy, so a flow log using it is created after the policy. Empty without log_bucket."
  value       = var.log_bucket ? aws_s3_bucket.logs[0].arn : ""

  depends_on = [aws_s3_bucket_policy.logs]
}
