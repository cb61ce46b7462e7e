# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  source = "../../tests/mocks/aws"

  # A long region with a twenty-character cluster name, for the bucket
  # names' length.
  override_data {
    target = data.aws_region.current
    values = { name = "ap-southeast-2" }
  }
}

variables {
  cluster_name = "kforge-twenty-chars1"
  kms_key_arn  = "arn:aws:kms:ap-southeast-2:123456789012:key/test"
}

# The real-AWS configuration: the deny statements are present. This is where
# the TLS-only statement is proven, since the emulator cannot evaluate it.
run "policy_denies_insecure_transport_and_unencrypted_uploads" {
  command = apply

  assert {
    condition     = length(aws_s3_bucket_policy.certs) == 1
    error_message = "the bucket policy exists on AWS"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.certs[0].policy).Statement :
    s.Effect == "Deny" && s.Principal == "*" && s.Action == "s3:*" && try(s.Condition.Bool["aws:SecureTransport"], "") == "false"])
    error_message = "a statement denies every request without TLS"
  }
  # The rendered document is the golden file the Go test evaluates request by
  # request (test/e2e/terraform: TestCertsBucketPolicyDecisions).
  assert {
    condition     = jsondecode(aws_s3_bucket_policy.certs[0].policy) == jsondecode(replace(replace(file("tests/testdata/policy.json"), "$${BUCKET_ARN}", "arn:aws:s3:::kforge-twenty-chars1-certs-123456789012-ap-southeast-2"), "$${KMS_KEY_ARN}", var.kms_key_arn))
    error_message = "the bucket policy differs from tests/testdata/policy.json; if intended, run make golden and review the diff"
  }
  # A negated operator (and any ...IfExists one) is true when the key is
  # absent, which denies UploadPart: every header test of a PutObject deny
  # must pair it with Null = false.
  assert {
    condition = alltrue([for s in jsondecode(aws_s3_bucket_policy.certs[0].policy).Statement :
      alltrue([for op, keys in s.Condition : alltrue([for k, _ in keys : try(s.Condition.Null[k], "") == "false"]) if(endswith(op, "IfExists") || strcontains(op, "Not"))])
    if s.Action == "s3:PutObject"])
    error_message = "a PutObject deny tests a header with a negated or IfExists operator without Null = false; multipart uploads would be denied"
  }
  assert {
    condition     = aws_s3_bucket.certs.bucket == "kforge-twenty-chars1-certs-123456789012-ap-southeast-2" && length(aws_s3_bucket.certs.bucket) <= 63
    error_message = "bucket named <cluster>-certs-<account>-<region>, at most 63 characters"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.certs.block_public_acls && aws_s3_bucket_public_access_block.certs.block_public_policy && aws_s3_bucket_public_access_block.certs.ignore_public_acls && aws_s3_bucket_public_access_block.certs.restrict_public_buckets
    error_message = "all four public access blocks"
  }
  assert {
    condition     = aws_s3_bucket_versioning.certs.versioning_configuration[0].status == "Enabled"
    error_message = "versioning on"
  }
  assert {
    condition     = one([for r in aws_s3_bucket_server_side_encryption_configuration.certs.rule : r.bucket_key_enabled && one(r.apply_server_side_encryption_by_default).sse_algorithm == "aws:kms" && one(r.apply_server_side_encryption_by_default).kms_master_key_id == var.kms_key_arn])
    error_message = "SSE-KMS with the cluster key and a bucket key"
  }
  assert {
    condition     = aws_s3_bucket_ownership_controls.certs.rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "ACLs disabled"
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.certs.rule : one(r.noncurrent_version_expiration).noncurrent_days if r.id == "expire-noncurrent-versions"]) == 30
    error_message = "noncurrent versions expire"
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.certs.rule : one(r.noncurrent_version_expiration).newer_noncurrent_versions if r.id == "expire-noncurrent-versions"]) == 3
    error_message = "the three newest noncurrent versions of each object (an agent a launch template may still pin) are kept whatever their age"
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.certs.rule : one(r.expiration).days if r.id == "expire-etcd-snapshot-history"]) == 14
    error_message = "the etcd snapshot history expires after the retention period"
  }
  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.certs.rule : one(r.filter).prefix if r.id == "expire-etcd-snapshot-history"]) == "controller/etcd/history/"
    error_message = "the snapshot rule covers only the snapshot history prefix"
  }
  # On the versioned bucket an expired or replaced snapshot stays as a
  # noncurrent version; of the enabled rules covering a key (the bucket-wide
  # one, whose empty filter the mock gives a made-up prefix, and those whose
  # prefix the key starts with), S3 applies the shortest noncurrent
  # expiration. The snapshots go after a day; the rest is kept 30 days.
  assert {
    condition = alltrue([for key in ["controller/etcd/latest.db", "controller/etcd/history/20260101T000000Z.db"] :
      min(concat([for r in aws_s3_bucket_lifecycle_configuration.certs.rule : one(r.noncurrent_version_expiration).noncurrent_days
    if r.status == "Enabled" && length(r.noncurrent_version_expiration) == 1 && (r.id == "expire-noncurrent-versions" || startswith(key, one(r.filter).prefix))], [99999])...) == 1])
    error_message = "noncurrent versions under controller/etcd/ (latest.db replaced at every backup, history past its retention) expire after etcd_snapshot_noncurrent_version_expiration_days (1), not the bucket-wide 30"
  }
  assert {
    condition = alltrue([for key in ["controller/pki.tar.gz", "controller/admin.conf", "bootstrap/cluster.json", "bootstrap/kforge-node-amd64", "workers/join.json"] :
      min(concat([for r in aws_s3_bucket_lifecycle_configuration.certs.rule : one(r.noncurrent_version_expiration).noncurrent_days
    if r.status == "Enabled" && length(r.noncurrent_version_expiration) == 1 && (r.id == "expire-noncurrent-versions" || startswith(key, one(r.filter).prefix))], [99999])...) == 30])
    error_message = "noncurrent versions outside controller/etcd/ (PKI backup, agents the launch templates pin) are kept noncurrent_version_expiration_days (30), the newest three longer"
  }
}

run "etcd_snapshot_noncurrent_days_from_the_input" {
  command = apply

  variables {
    etcd_snapshot_noncurrent_version_expiration_days = 3
  }

  assert {
    condition     = one([for r in aws_s3_bucket_lifecycle_configuration.certs.rule : one(r.noncurrent_version_expiration).noncurrent_days if one(r.filter).prefix == "controller/etcd/" && r.status == "Enabled"]) == 3
    error_message = "noncurrent versions under controller/etcd/ expire after etcd_snapshot_noncurrent_version_expiration_days"
  }
}

# Longer than the bucket-wide rule would be a setting S3 does not honor.
run "rejects_etcd_snapshot_noncurrent_days_above_the_bucket_wide" {
  command = plan

  variables {
    noncurrent_version_expiration_days               = 7
    etcd_snapshot_noncurrent_version_expiration_days = 8
  }

  expect_failures = [var.etcd_snapshot_noncurrent_version_expiration_days]
}

run "rejects_noncurrent_versions_kept_beyond_s3s_range" {
  command = plan

  variables {
    noncurrent_versions_kept = 101
  }

  expect_failures = [var.noncurrent_versions_kept]
}

run "emulator_has_no_policy" {
  command = apply

  variables {
    enforce_tls_and_sse = false
  }

  assert {
    condition     = length(aws_s3_bucket_policy.certs) == 0 && !output.policy_enforced
    error_message = "without enforcement no bucket policy is applied"
  }
}

run "no_log_bucket_by_default" {
  command = plan

  assert {
    condition     = length(aws_s3_bucket.logs) == 0 && length(aws_s3_bucket_logging.certs) == 0 && output.log_bucket_arn == ""
    error_message = "no log bucket unless asked for"
  }
}

# Access logs of the certs bucket go to a private, TLS-only log bucket that
# only S3's logging service (for this bucket) and the flow-log delivery
# service (for this account) may write to (issue 14, finding 6).
run "access_logs_to_the_log_bucket" {
  command = apply

  variables {
    log_bucket         = true
    access_logs        = true
    log_retention_days = 30
  }

  assert {
    condition     = aws_s3_bucket_logging.certs[0].target_bucket == aws_s3_bucket.logs[0].id && aws_s3_bucket_logging.certs[0].target_prefix == "s3-access/certs/"
    error_message = "the certs bucket logs to the log bucket under s3-access/certs/"
  }
  assert {
    condition     = aws_s3_bucket.logs[0].bucket == "kforge-twenty-chars1-logs-123456789012-ap-southeast-2"
    error_message = "log bucket named <cluster>-logs-<account>-<region>"
  }
  assert {
    condition     = aws_s3_bucket_public_access_block.logs[0].restrict_public_buckets && aws_s3_bucket_public_access_block.logs[0].block_public_policy && aws_s3_bucket_ownership_controls.logs[0].rule[0].object_ownership == "BucketOwnerEnforced"
    error_message = "the log bucket is private"
  }
  assert {
    condition     = one(aws_s3_bucket_lifecycle_configuration.logs[0].rule).expiration[0].days == 30
    error_message = "logs expire after log_retention_days"
  }
  assert {
    condition = alltrue([for s in jsondecode(aws_s3_bucket_policy.logs[0].policy).Statement :
      s.Effect == "Deny" || (
        contains(["logging.s3.amazonaws.com", "delivery.logs.amazonaws.com"], try(s.Principal.Service, "")) &&
        try(s.Condition.StringEquals["aws:SourceAccount"], "") == "123456789012"
      )
    ])
    error_message = "only the two log services may write, each bound to this account"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.logs[0].policy).Statement :
    s.Sid == "S3ServerAccessLogs" && try(s.Condition.ArnLike["aws:SourceArn"], "") == "arn:aws:s3:::kforge-twenty-chars1-certs-123456789012-ap-southeast-2"])
    error_message = "access logs accepted only from the certs bucket"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.logs[0].policy).Statement :
    s.Sid == "DenyInsecureTransport" && try(s.Condition.Bool["aws:SecureTransport"], "") == "false"])
    error_message = "the log bucket is TLS-only"
  }
  # The flow-log statements are AWS's own (VPC User Guide, "Amazon S3 bucket
  # permissions for flow logs"): if they were missing, creating the flow log
  # would make AWS replace the bucket policy with its own.
  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.logs[0].policy).Statement :
      s.Effect == "Allow" && s.Principal == { Service = "delivery.logs.amazonaws.com" } &&
      s.Action == "s3:PutObject" && s.Resource == "arn:aws:s3:::kforge-twenty-chars1-logs-123456789012-ap-southeast-2/vpc-flow-logs/AWSLogs/123456789012/*" &&
      s.Condition == {
        StringEquals = { "aws:SourceAccount" = "123456789012", "s3:x-amz-acl" = "bucket-owner-full-control" }
        ArnLike      = { "aws:SourceArn" = "arn:aws:logs:ap-southeast-2:123456789012:*" }
    } if s.Sid == "AWSLogDeliveryWrite"])
    error_message = "AWSLogDeliveryWrite as documented: PutObject under vpc-flow-logs/AWSLogs/<account>/, bucket-owner-full-control, aws:SourceAccount and aws:SourceArn arn:aws:logs:<region>:<account>:*"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_s3_bucket_policy.logs[0].policy).Statement :
      s.Effect == "Allow" && s.Principal == { Service = "delivery.logs.amazonaws.com" } &&
      toset(s.Action) == toset(["s3:GetBucketAcl", "s3:ListBucket"]) && s.Resource == "arn:aws:s3:::kforge-twenty-chars1-logs-123456789012-ap-southeast-2" &&
      s.Condition == {
        StringEquals = { "aws:SourceAccount" = "123456789012" }
        ArnLike      = { "aws:SourceArn" = "arn:aws:logs:ap-southeast-2:123456789012:*" }
    } if s.Sid == "AWSLogDeliveryAclCheck"])
    error_message = "AWSLogDeliveryAclCheck as documented: GetBucketAcl and ListBucket on the bucket, aws:SourceAccount and aws:SourceArn arn:aws:logs:<region>:<account>:*"
  }
  # Nothing but these two statements admits the delivery service.
  assert {
    condition     = length([for s in jsondecode(aws_s3_bucket_policy.logs[0].policy).Statement : s if try(s.Principal.Service, "") == "delivery.logs.amazonaws.com"]) == 2
    error_message = "exactly two statements for delivery.logs.amazonaws.com"
  }
}

run "rejects_access_logs_without_log_bucket" {
  command = plan

  variables {
    access_logs = true
  }

  expect_failures = [var.access_logs]
}
