data "aws_caller_identity" "current" {}

data "aws_partition" "current" {}

# AWS creates this role with an account's first Auto Scaling group, which
# comes after the key. kforge creates it before Terraform runs when it is
# missing (internal/servicerole) and never deletes it: it is shared by every
# group in the account. A Terraform-only user on an account without it sets
# create_autoscaling_service_linked_role once; that stack then owns it, and
# its destroy fails while any other group of the account uses the role
# (DeleteServiceLinkedRole's task fails, and the provider waits for success).
data "aws_iam_role" "autoscaling" {
  count = var.create_autoscaling_service_linked_role ? 0 : 1

  name = "AWSServiceRoleForAutoScaling"
}

resource "aws_iam_service_linked_role" "autoscaling" {
  count = var.create_autoscaling_service_linked_role ? 1 : 0

  aws_service_name = "autoscaling.amazonaws.com"
  description      = "Default service-linked role for EC2 Auto Scaling"
}

locals {
  account_root = "arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"

  # The EC2 Auto Scaling service-linked role launches the nodes. It must be
  # allowed to use the key and to create grants for EC2, otherwise instances
  # with KMS-encrypted root volumes fail to launch ("Client.InternalError").
  # A key policy naming a role that does not exist is refused, so the ARN
  # comes from the role itself (created here, or looked up), which also
  # orders the key after it.
  autoscaling_role = var.create_autoscaling_service_linked_role ? aws_iam_service_linked_role.autoscaling[0].arn : data.aws_iam_role.autoscaling[0].arn

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
