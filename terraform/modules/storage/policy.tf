locals {
  # The file system policy, with the file system's ARN left as a
  # placeholder so that the document is known at plan time: the golden test
  # reads it from a plan (test/e2e/terraform) and evaluates it request by
  # request.
  #
  # A file system policy replaces EFS's default one, which lets any client
  # that reaches a mount target mount, write and act as root. Clients that
  # mount without IAM authorization (the EFS CSI driver does) are anonymous
  # and get only what the policy grants to "*", so the Allow keeps that
  # access; without it every mount would be refused. The Deny then refuses
  # every NFS connection not made over TLS (the driver mounts with TLS
  # unless a volume sets encryptInTransit to "false").
  file_system_arn_placeholder = "$${FILE_SYSTEM_ARN}"
  file_system_policy = jsonencode({
    Version = "2012-10-17"
    Statement = [
      {
        Sid       = "AllowClientsThroughMountTargets"
        Effect    = "Allow"
        Principal = { AWS = "*" }
        Action = [
          "elasticfilesystem:ClientMount",
          "elasticfilesystem:ClientWrite",
          "elasticfilesystem:ClientRootAccess",
        ]
        Resource  = local.file_system_arn_placeholder
        Condition = { Bool = { "elasticfilesystem:AccessedViaMountTarget" = "true" } }
      },
      {
        Sid       = "DenyInsecureTransport"
        Effect    = "Deny"
        Principal = { AWS = "*" }
        Action    = "*"
        Resource  = local.file_system_arn_placeholder
        Condition = { Bool = { "aws:SecureTransport" = "false" } }
      },
    ]
  })
}

resource "aws_efs_file_system_policy" "tls_only" {
  count = var.enforce_tls ? 1 : 0

  file_system_id = aws_efs_file_system.this.id
  policy         = replace(local.file_system_policy, local.file_system_arn_placeholder, aws_efs_file_system.this.arn)
}
