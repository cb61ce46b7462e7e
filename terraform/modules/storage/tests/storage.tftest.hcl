# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  mock_resource "aws_efs_file_system" {
    defaults = {
      arn = "arn:aws:elasticfilesystem:eu-west-1:123456789012:file-system/fs-0123456789abcdef0"
    }
  }
}

variables {
  cluster_name              = "kforge-test"
  vpc_id                    = "vpc-12345678"
  subnet_ids                = ["subnet-1", "subnet-2", "subnet-3"]
  kms_key_arn               = "arn:aws:kms:eu-west-1:123456789012:key/test"
  client_security_group_ids = ["sg-controller", "sg-workers"]
}

run "mount_target_per_zone" {
  command = apply

  assert {
    condition     = length(aws_efs_mount_target.this) == 3 && tolist([for mt in aws_efs_mount_target.this : mt.subnet_id]) == var.subnet_ids
    error_message = "one mount target per zone's subnet"
  }
  assert {
    condition     = aws_efs_file_system.this.encrypted && aws_efs_file_system.this.kms_key_id == var.kms_key_arn
    error_message = "encrypted with the cluster key"
  }
  assert {
    condition     = tolist([for r in aws_vpc_security_group_ingress_rule.nfs : r.referenced_security_group_id]) == var.client_security_group_ids && alltrue([for r in aws_vpc_security_group_ingress_rule.nfs : r.from_port == 2049 && r.to_port == 2049 && r.cidr_ipv4 == null])
    error_message = "NFS only from the cluster node groups"
  }
  assert {
    condition     = length(aws_efs_backup_policy.this) == 0 && !output.backups_enabled
    error_message = "backups default to off: no backup policy"
  }
}

run "tls_only_file_system_policy" {
  command = apply

  # The rendered document is the golden file the Go test evaluates request by
  # request (test/e2e/terraform: TestEFSFileSystemPolicyDecisions).
  assert {
    condition     = jsondecode(aws_efs_file_system_policy.tls_only[0].policy) == jsondecode(replace(file("tests/testdata/policy.json"), "$${FILE_SYSTEM_ARN}", aws_efs_file_system.this.arn))
    error_message = "the file system policy differs from tests/testdata/policy.json; if intended, run make golden and review the diff"
  }
  # A file system policy replaces EFS's default full access: without an
  # Allow of ClientMount and ClientWrite to every principal, every mount
  # without IAM authorization (the EFS CSI driver's) is refused.
  assert {
    condition = anytrue([for s in jsondecode(local.file_system_policy).Statement :
    s.Effect == "Allow" && s.Principal == { AWS = "*" } && contains(flatten([s.Action]), "elasticfilesystem:ClientMount") && contains(flatten([s.Action]), "elasticfilesystem:ClientWrite")])
    error_message = "the file system policy grants anonymous clients mount and write access"
  }
  assert {
    condition     = aws_efs_file_system_policy.tls_only[0].file_system_id == aws_efs_file_system.this.id && !coalesce(aws_efs_file_system_policy.tls_only[0].bypass_policy_lockout_safety_check, false)
    error_message = "the policy is on this file system, with EFS's lockout safety check"
  }
}

run "no_policy_on_an_emulator" {
  command = plan

  variables {
    enforce_tls = false
  }

  assert {
    condition     = length(aws_efs_file_system_policy.tls_only) == 0 && !output.policy_enforced
    error_message = "enforce_tls = false applies no file system policy"
  }
}

run "automatic_backups" {
  command = apply

  variables {
    backups = true
  }

  assert {
    condition     = length(aws_efs_backup_policy.this) == 1 && aws_efs_backup_policy.this[0].file_system_id == aws_efs_file_system.this.id && aws_efs_backup_policy.this[0].backup_policy[0].status == "ENABLED"
    error_message = "backups = true enables the file system's automatic backups"
  }
}
