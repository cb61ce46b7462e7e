mock_provider "aws" {
  override_data {
    target = data.aws_caller_identity.current
    values = { account_id = "123456789012" }
  }
  override_data {
    target = data.aws_partition.current
    values = { partition = "aws" }
  }
}

variables {
  cluster_name = "kforge-test"
}

run "key" {
  command = apply

  assert {
    condition     = aws_kms_key.cluster.enable_key_rotation
    error_message = "rotation on"
  }
  assert {
    condition     = aws_kms_alias.cluster.name == "alias/kforge-test"
    error_message = "alias/<cluster>"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_kms_key.cluster.policy).Statement :
    s.Principal.AWS == "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" && s.Action == "kms:CreateGrant"])
    error_message = "the Auto Scaling service-linked role may create grants (encrypted EBS at launch)"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_kms_key.cluster.policy).Statement :
    s.Principal.AWS == "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" && contains(flatten([s.Action]), "kms:Decrypt")])
    error_message = "the Auto Scaling service-linked role may use the key"
  }
}

run "rejects_short_deletion_window" {
  command = plan

  variables {
    deletion_window_in_days = 3
  }

  expect_failures = [var.deletion_window_in_days]
}
