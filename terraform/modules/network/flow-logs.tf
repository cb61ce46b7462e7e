# VPC flow logs: every accepted and rejected connection, delivered to S3 in
# ten-minute batches (no IAM role is needed for the S3 destination; the
# bucket policy admits the log delivery service).
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
