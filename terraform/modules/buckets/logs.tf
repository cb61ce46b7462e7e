# The log bucket: VPC flow logs (vpc-flow-logs/) and the certs bucket's S3
# server access logs (s3-access/certs/). SSE-S3, not SSE-KMS: S3 server
# access logging cannot deliver to a bucket whose default encryption is
# SSE-KMS. Nothing secret is logged (request metadata and connection
# tuples), and the bucket is private and TLS-only.
locals {
  log_bucket_name = trimsuffix(substr("${var.cluster_name}-logs-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}", 0, 63), "-")
  log_bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${local.log_bucket_name}"
  account_id      = data.aws_caller_identity.current.account_id
  # Log deliveries (CloudWatch Logs' delivery service) of this account and region.
  log_delivery_source_arn = "arn:${data.aws_partition.current.partition}:logs:${data.aws_region.current.name}:${local.account_id}:*"

  log_policy_statements = [
    local.deny_insecure_transport.logs,
    # S3 server access logs of the certs bucket, from this account only.
    {
      Sid       = "S3ServerAccessLogs"
      Effect    = "Allow"
      Principal = { Service = "logging.s3.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "${local.log_bucket_arn}/s3-access/*"
      Condition = {
        ArnLike      = { "aws:SourceArn" = local.bucket_arn }
        StringEquals = { "aws:SourceAccount" = local.account_id }
      }
    },
    # VPC flow logs delivered to S3: the two statements of the VPC User
    # Guide ("Amazon S3 bucket permissions for flow logs"), Sids included,
    # bound to this account and to log deliveries from this region. When the
    # caller creating a flow log may Get/PutBucketPolicy and the policy lacks
    # these statements, AWS writes its own policy to the bucket (the VPC
    # guide: it "overwrites any existing policy"), which would drop the
    # statements above and leave `terraform plan` non-empty. So the policy
    # carries them verbatim, and output log_bucket_arn, the flow log's
    # destination, is available only once this policy is in place.
    {
      Sid       = "AWSLogDeliveryWrite"
      Effect    = "Allow"
      Principal = { Service = "delivery.logs.amazonaws.com" }
      Action    = "s3:PutObject"
      Resource  = "${local.log_bucket_arn}/vpc-flow-logs/AWSLogs/${local.account_id}/*"
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id, "s3:x-amz-acl" = "bucket-owner-full-control" }
        ArnLike      = { "aws:SourceArn" = local.log_delivery_source_arn }
      }
    },
    {
      # ListBucket on the bucket only (no object reads): CloudWatch Logs
      # guide, "Logs sent to Amazon S3", to avoid AccessDenied errors.
      Sid       = "AWSLogDeliveryAclCheck"
      Effect    = "Allow"
      Principal = { Service = "delivery.logs.amazonaws.com" }
      Action    = ["s3:GetBucketAcl", "s3:ListBucket"]
      Resource  = local.log_bucket_arn
      Condition = {
        StringEquals = { "aws:SourceAccount" = local.account_id }
        ArnLike      = { "aws:SourceArn" = local.log_delivery_source_arn }
      }
    },
  ]
}

resource "aws_s3_bucket" "logs" {
  count = var.log_bucket ? 1 : 0

  bucket        = local.log_bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "logs" {
  count  = var.log_bucket ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "logs" {
  count                   = var.log_bucket ? 1 : 0
  bucket                  = aws_s3_bucket.logs[0].id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_server_side_encryption_configuration" "logs" {
  count  = var.log_bucket ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "logs" {
  count  = var.log_bucket ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id

  rule {
    id     = "expire-logs"
    status = "Enabled"

    filter {}

    expiration {
      days = var.log_retention_days
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }
}

# The service principals' Allow statements carry conditions, which the
# emulator treats as unmet; like the certs bucket's policy, it is applied
# only where conditions are evaluated.
resource "aws_s3_bucket_policy" "logs" {
  count  = var.log_bucket && var.enforce_tls_and_sse ? 1 : 0
  bucket = aws_s3_bucket.logs[0].id
  policy = jsonencode({ Version = "2012-10-17", Statement = local.log_policy_statements })

  depends_on = [aws_s3_bucket_public_access_block.logs]
}

resource "aws_s3_bucket_logging" "certs" {
  count = var.access_logs ? 1 : 0

  bucket        = aws_s3_bucket.certs.id
  target_bucket = aws_s3_bucket.logs[0].id
  target_prefix = "s3-access/certs/"
}
