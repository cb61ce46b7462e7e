locals {
  # Written with jsonencode (not a data source), and with the ARN built from
  # the name, so that the document is known at plan time and can be asserted
  # offline (terraform test, and the Go evaluation of its conditions).
  #
  # Both buckets refuse any request not made over TLS, to the bucket and to
  # its objects alike.
  deny_insecure_transport = { for name, arn in { certs = local.bucket_arn, logs = local.log_bucket_arn } : name => {
    Sid       = "DenyInsecureTransport"
    Effect    = "Deny"
    Principal = "*"
    Action    = "s3:*"
    Resource  = [arn, "${arn}/*"]
    Condition = { Bool = { "aws:SecureTransport" = "false" } }
  } }

  # The upload denies below differ only in the headers they refuse.
  deny_upload = {
    Effect    = "Deny"
    Principal = "*"
    Action    = "s3:PutObject"
    Resource  = "${local.bucket_arn}/*"
  }

  policy_statements = [
    local.deny_insecure_transport.certs,
    # SSE-KMS with the cluster key is the bucket's default encryption, so a
    # write without encryption headers gets the cluster key. The statements
    # below refuse only headers asking for anything else. They test the
    # headers with Null plus a plain operator, never with a negated operator
    # alone: a negated operator (and any ...IfExists one) is true when the
    # key is absent, and UploadPart and CompleteMultipartUpload, which S3
    # authorizes as s3:PutObject, carry no encryption header at all (the
    # encryption of a multipart upload is set by CreateMultipartUpload).
    merge(local.deny_upload, {
      Sid = "DenyOtherEncryption"
      Condition = {
        Null            = { "s3:x-amz-server-side-encryption" = "false" }
        StringNotEquals = { "s3:x-amz-server-side-encryption" = "aws:kms" }
      }
    }),
    merge(local.deny_upload, {
      # aws:kms without a key id would fall back to the AWS managed aws/s3 key.
      Sid = "DenyKMSWithoutClusterKeyId"
      Condition = {
        StringEquals = { "s3:x-amz-server-side-encryption" = "aws:kms" }
        Null         = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = "true" }
      }
    }),
    merge(local.deny_upload, {
      Sid = "DenyOtherKMSKeys"
      Condition = {
        Null            = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = "false" }
        StringNotEquals = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = var.kms_key_arn }
      }
    }),
    merge(local.deny_upload, {
      # SSE-C: the data would be encrypted under a key the cluster never sees.
      Sid       = "DenyCustomerProvidedKeys"
      Condition = { Null = { "s3:x-amz-server-side-encryption-customer-algorithm" = "false" } }
    }),
  ]

  policy = {
    Version   = "2012-10-17"
    Statement = local.policy_statements
  }
}

# Every statement is conditional, and an emulator that cannot evaluate
# conditions would deny everything; without enforcement there is no policy.
resource "aws_s3_bucket_policy" "certs" {
  count = var.enforce_tls_and_sse ? 1 : 0

  bucket = aws_s3_bucket.certs.id
  policy = jsonencode(local.policy)

  depends_on = [aws_s3_bucket_public_access_block.certs]
}
