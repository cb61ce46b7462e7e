data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"

  # The EC2 Auto Scaling service-linked role launches the nodes. It must be
  # allowed to use the key and to create grants for EC2, otherwise instances
  # with KMS-encrypted root volumes fail to launch ("Client.InternalError").
  autoscaling_role = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"

  key_policy = {
    Version = "2012-10-17"
    Statement = [
      {
        # The account administers the key; IAM policies (the node roles)
        # decide who else may use it.
        Sid       = "AccountAdministration"
        Effect    = "Allow"
        Principal = { AWS = local.account_root }
        Action    = "kms:*"
        Resource  = "*"
      },
      {
        Sid       = "AutoScalingUseOfTheKey"
        Effect    = "Allow"
        Principal = { AWS = local.autoscaling_role }
        Action = [
          "kms:Decrypt",
          "kms:DescribeKey",
          "kms:Encrypt",
          "kms:GenerateDataKey*",
          "kms:ReEncrypt*",
        ]
        Resource = "*"
      },
      {
        Sid       = "AutoScalingGrantsForEBS"
        Effect    = "Allow"
        Principal = { AWS = local.autoscaling_role }
        Action    = "kms:CreateGrant"
        Resource  = "*"
        Condition = { Bool = { "kms:GrantIsForAWSResource" = "true" } }
      },
    ]
  }
}
