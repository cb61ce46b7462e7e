# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {}

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
}
