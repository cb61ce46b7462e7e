locals {
  # Written with jsonencode (not a data source) so that the document is
  # known at plan time and can be asserted offline in terraform test.
  policy_statements = [
    {
      Sid       = "DenyInsecureTransport"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:*"
      Resource  = [aws_s3_bucket.certs.arn, "${aws_s3_bucket.certs.arn}/*"]
      Condition = { Bool = { "aws:SecureTransport" = "false" } }
    },
    {
      Sid       = "DenyUploadsWithoutKMS"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:PutObject"
      Resource  = "${aws_s3_bucket.certs.arn}/*"
      Condition = { StringNotEquals = { "s3:x-amz-server-side-encryption" = "aws:kms" } }
    },
    {
      Sid       = "DenyUploadsWithOtherKeys"
      Effect    = "Deny"
      Principal = "*"
      Action    = "s3:PutObject"
      Resource  = "${aws_s3_bucket.certs.arn}/*"
      Condition = { StringNotEqualsIfExists = { "s3:x-amz-server-side-encryption-aws-kms-key-id" = var.kms_key_arn } }
    },
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
