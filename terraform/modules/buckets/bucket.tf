data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # Globally unique and valid: lowercase, at most 63 characters, no
  # trailing hyphen after trimming.
  bucket_name = trimsuffix(substr("${var.cluster_name}-certs-${data.aws_caller_identity.current.account_id}-${data.aws_region.current.name}", 0, 63), "-")
  bucket_arn  = "arn:${data.aws_partition.current.partition}:s3:::${local.bucket_name}"
}

resource "aws_s3_bucket" "certs" {
  bucket        = local.bucket_name
  force_destroy = var.force_destroy
  tags          = var.tags
}

resource "aws_s3_bucket_ownership_controls" "certs" {
  bucket = aws_s3_bucket.certs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "certs" {
  bucket                  = aws_s3_bucket.certs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "certs" {
  bucket = aws_s3_bucket.certs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "certs" {
  bucket = aws_s3_bucket.certs.id

  rule {
    bucket_key_enabled = true

    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = var.kms_key_arn
    }
  }
}

# Old versions of PKI backups and etcd snapshots expire; the current ones stay.
resource "aws_s3_bucket_lifecycle_configuration" "certs" {
  bucket = aws_s3_bucket.certs.id

  # The newest replaced versions stay whatever their age: a launch template
  # pins its agent binary by version, and an apply that uploaded a new agent
  # but stopped before the groups' templates moved leaves them pinning the
  # old one, which age alone would remove after 30 days, and with it every
  # launch of those groups.
  rule {
    id     = "expire-noncurrent-versions"
    status = "Enabled"

    filter {}

    noncurrent_version_expiration {
      noncurrent_days           = var.noncurrent_version_expiration_days
      newer_noncurrent_versions = var.noncurrent_versions_kept
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  # The control plane writes an etcd snapshot every backup interval (15
  # minutes by default); keep them for the retention period.
  rule {
    id     = "expire-etcd-snapshot-history"
    status = "Enabled"

    filter {
      prefix = "controller/etcd/history/"
    }

    expiration {
      days = var.etcd_snapshot_retention_days
    }
  }

  # On this versioned bucket the rule above leaves each expired snapshot as a
  # noncurrent version, and every backup leaves the previous latest.db; they
  # go after these days, not the bucket-wide 30 (overlapping expirations: S3
  # honors the shorter, User Guide "How Amazon S3 handles conflicts in
  # lifecycle configurations"). The rule above's Days expiration also removes
  # its delete markers once alone (User Guide "Expiring objects").
  rule {
    id     = "expire-noncurrent-etcd-snapshots"
    status = "Enabled"

    filter {
      prefix = "controller/etcd/"
    }

    noncurrent_version_expiration {
      noncurrent_days = var.etcd_snapshot_noncurrent_version_expiration_days
    }
  }

  depends_on = [aws_s3_bucket_versioning.certs]
}
