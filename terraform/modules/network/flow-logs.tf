# VPC flow logs: every accepted and rejected connection, delivered to S3 in
# ten-minute batches (no IAM role is needed for the S3 destination; the
# bucket policy admits the log delivery service). The destination's policy
# must be in place before the flow log is created: otherwise AWS, when the
# caller may Get/PutBucketPolicy, attaches its own policy to the bucket,
# overwriting the existing one. The root module passes the buckets module's
# log_bucket_arn, an output that depends on that policy.
resource "aws_flow_log" "vpc" {
  count = var.flow_logs ? 1 : 0

  vpc_id                   = aws_vpc.this.id
  traffic_type             = "ALL"
  log_destination_type     = "s3"
  log_destination          = "${var.flow_logs_destination}/vpc-flow-logs/"
  max_aggregation_interval = 600
  tags                     = merge(var.tags, { Name = "${var.cluster_name}-flow-logs" })

  lifecycle {
    precondition {
      condition     = var.flow_logs_destination != ""
      error_message = "flow_logs needs flow_logs_destination, the ARN of the log bucket."
    }
  }
}
