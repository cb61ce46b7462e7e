output "bucket_name" {
  description = "Name of the certs / bootstrap bucket."
  value       = aws_s3_bucket.certs.id
}

output "bucket_arn" {
  description = "ARN of the certs / bootstrap bucket."
  value       = aws_s3_bucket.certs.arn
}

output "policy_json" {
  description = "The bucket policy document (applied only when enforce_tls_and_sse is true)."
  value       = jsonencode(local.policy)
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
