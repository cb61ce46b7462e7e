# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  source = "../../tests/mocks/aws"

  override_data {
    target = data.aws_iam_role.autoscaling
    values = { arn = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling" }
  }
  mock_resource "aws_iam_service_linked_role" {
    defaults = {
      arn = "arn:aws:iam::123456789012:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling-created"
    }
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

  assert {
    condition     = length(aws_iam_service_linked_role.autoscaling) == 0 && length(data.aws_iam_role.autoscaling) == 1
    error_message = "by default the existing role is looked up, not created (creating an existing one fails)"
  }
}

# A fresh account: the role is created here, and the key names the created
# role, so Terraform creates the key after it.
run "creates_the_service_linked_role" {
  command = apply

  variables {
    create_autoscaling_service_linked_role = true
  }

  assert {
    condition     = aws_iam_service_linked_role.autoscaling[0].aws_service_name == "autoscaling.amazonaws.com" && length(data.aws_iam_role.autoscaling) == 0
    error_message = "the Auto Scaling service-linked role is created, not looked up"
  }
  assert {
    condition = anytrue([for s in jsondecode(aws_kms_key.cluster.policy).Statement :
    s.Principal.AWS == aws_iam_service_linked_role.autoscaling[0].arn && s.Action == "kms:CreateGrant"])
    error_message = "the key policy names the created role (and so depends on it)"
  }
}

run "rejects_short_deletion_window" {
  command = plan

  variables {
    deletion_window_in_days = 3
  }

  expect_failures = [var.deletion_window_in_days]
}
