# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  cluster_name        = "kforge-test"
  bucket_arn          = "arn:aws:s3:::kforge-test-certs-123456789012-eu-west-1"
  kms_key_arn         = "arn:aws:kms:eu-west-1:123456789012:key/test"
  zone_id             = "Z0123456789ABC"
  api_record_name     = "api.dev.example.com"
  efs_file_system_arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-12345678"
}

run "least_privilege" {
  command = apply

  assert {
    condition = alltrue(flatten([for d in output.policy_documents : [for s in jsondecode(d).Statement :
    [for a in flatten([s.Action]) : !strcontains(a, "*")]]]))
    error_message = "no wildcard action in any policy"
  }
  assert {
    condition = alltrue(flatten([for d in output.policy_documents : [for s in jsondecode(d).Statement :
      [for a in flatten([s.Action]) : !contains(flatten([s.Resource]), "*") || can(regex(":(Describe|List|Get)", a)) || contains(["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"], a)]
    ]]))
    error_message = "resource * only on read-only actions (and the Session Manager channel actions, which have no resource types)"
  }
  # Session Manager on every node, with only what a session needs: not the
  # broad AmazonSSMManagedInstanceCore (Run Command, parameters, inventory).
  assert {
    condition = alltrue([for role in ["controller", "worker"] : anytrue([for s in jsondecode(output.policy_documents[role]).Statement :
      toset(flatten([s.Action])) == toset(["ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel", "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"])
    ])])
    error_message = "both node roles may open Session Manager sessions, with exactly the five actions it needs"
  }
  assert {
    condition = alltrue(flatten([for d in output.policy_documents : [for s in jsondecode(d).Statement :
    [for a in flatten([s.Action]) : !startswith(a, "ssm:SendCommand") && !startswith(a, "ec2messages:") && !startswith(a, "ssm:GetParameter")]]]))
    error_message = "no Run Command or parameter access for the node roles"
  }
  assert {
    condition = alltrue([for s in jsondecode(output.policy_documents["cluster_autoscaler"]).Statement :
    s.Condition.StringEquals["aws:ResourceTag/k8s.io/cluster-autoscaler/kforge-test"] == "owned" if contains(flatten([s.Action]), "autoscaling:SetDesiredCapacity")])
    error_message = "autoscaler mutations only on groups tagged for this cluster"
  }
  assert {
    condition = alltrue([for s in jsondecode(output.policy_documents["efs_csi"]).Statement :
      s.Condition.StringEquals["aws:RequestTag/efs.csi.aws.com/cluster"] == "true" && s.Condition.StringEquals["aws:RequestTag/kforge.io/cluster"] == "kforge-test"
    if contains(flatten([s.Action]), "elasticfilesystem:CreateAccessPoint")])
    error_message = "EFS access points created only with the CSI tag and this cluster's tag"
  }
  # TagResource on an existing access point is what let the role re-tag,
  # then delete, another cluster's: every grant needs this cluster's tag on
  # the resource, or must be the tag-on-create of CreateAccessPoint with it.
  assert {
    condition = alltrue([for s in jsondecode(output.policy_documents["efs_csi"]).Statement :
      try(s.Condition.StringEquals["aws:ResourceTag/kforge.io/cluster"], "") == "kforge-test" ||
      (try(s.Condition.StringEquals["elasticfilesystem:CreateAction"], "") == "CreateAccessPoint" && try(s.Condition.StringEquals["aws:RequestTag/kforge.io/cluster"], "") == "kforge-test")
    if contains(flatten([s.Action]), "elasticfilesystem:TagResource")])
    error_message = "EFS TagResource only on this cluster's access points or on creation with this cluster's tag"
  }
  assert {
    condition = alltrue([for s in jsondecode(output.policy_documents["efs_csi"]).Statement :
      s.Condition.StringEquals["aws:ResourceTag/efs.csi.aws.com/cluster"] == "true" && s.Condition.StringEquals["aws:ResourceTag/kforge.io/cluster"] == "kforge-test"
    if contains(flatten([s.Action]), "elasticfilesystem:DeleteAccessPoint")])
    error_message = "only this cluster's CSI access points can be deleted"
  }
  assert {
    condition     = jsondecode(output.policy_documents["node_drainer"]).Statement[0].Resource == ["arn:aws:sqs:eu-west-1:123456789012:kforge-test-node-events"] && jsondecode(output.policy_documents["node_drainer"]).Statement[0].Action == ["sqs:DeleteMessage", "sqs:ReceiveMessage"]
    error_message = "the drainer reads and deletes messages of the cluster's node events queue only"
  }
  assert {
    condition = alltrue([for s in jsondecode(output.policy_documents["node_drainer"]).Statement :
      s.Condition.StringEquals["autoscaling:ResourceTag/kforge.io/cluster"] == "kforge-test" && flatten([s.Resource]) == ["arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/kforge-test-*"]
    if contains(flatten([s.Action]), "autoscaling:CompleteLifecycleAction")])
    error_message = "lifecycle actions completed only in this cluster's tagged groups"
  }
  assert {
    condition = length([for s in jsondecode(output.policy_documents["node_drainer"]).Statement : s
      if contains(flatten([s.Action]), "autoscaling:TerminateInstanceInAutoScalingGroup") &&
      try(s.Condition.StringEquals["aws:ResourceTag/k8s.io/cluster-autoscaler/kforge-test"], "") == "owned" &&
    flatten([s.Resource]) == ["arn:aws:autoscaling:eu-west-1:123456789012:autoScalingGroup:*:autoScalingGroupName/kforge-test-*"]]) == 1
    error_message = "the drainer terminates instances only in this cluster's worker groups (the Cluster Autoscaler ownership tag), to replace workers a restore left without a Node"
  }
  assert {
    condition = alltrue([for s in jsondecode(output.policy_documents["controller"]).Statement :
    flatten([s.Resource]) == ["arn:aws:route53:::hostedzone/Z0123456789ABC"] if contains(flatten([s.Action]), "route53:ChangeResourceRecordSets")])
    error_message = "record changes only in the cluster's zone"
  }
  assert {
    condition = alltrue([for s in jsondecode(output.policy_documents["controller"]).Statement :
      flatten([s.Action]) == ["route53:ChangeResourceRecordSets"] &&
      s.Condition["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsNormalizedRecordNames"] == ["api.dev.example.com"] &&
      s.Condition["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsRecordTypes"] == ["A"] &&
      s.Condition["ForAllValues:StringEquals"]["route53:ChangeResourceRecordSetsActions"] == ["UPSERT"]
    if contains(flatten([s.Action]), "route53:ChangeResourceRecordSets")])
    error_message = "record changes only: UPSERT of the A record api.<domain>"
  }
  assert {
    condition = alltrue([for s in jsondecode(output.policy_documents["worker"]).Statement :
    alltrue([for r in flatten([s.Resource]) : !startswith(r, "${var.bucket_arn}/controller")])])
    error_message = "workers never reach the controller prefix"
  }
  assert {
    condition     = toset(keys(aws_iam_role_policy_attachment.this)) == toset(["controller", "worker", "cluster_autoscaler", "efs_csi", "node_drainer"]) && alltrue([for k in ["cluster_autoscaler", "efs_csi", "node_drainer"] : aws_iam_role_policy_attachment.this[k].role == aws_iam_role.controller.name])
    error_message = "autoscaler, EFS CSI and node drainer policies go to the control-plane role"
  }
  assert {
    condition     = aws_iam_instance_profile.controller.role == aws_iam_role.controller.name && aws_iam_instance_profile.worker.role == aws_iam_role.worker.name
    error_message = "an instance profile per node role"
  }
}

# Route 53 compares the normalized name: an uppercase name or a trailing dot
# would never match, and the agent could not update its record.
run "rejects_unnormalized_api_record_name" {
  command = plan

  variables {
    api_record_name = "API.dev.example.com."
  }

  expect_failures = [var.api_record_name]
}
