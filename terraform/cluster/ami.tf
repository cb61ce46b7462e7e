locals {
  # Graviton families (a1, and m7g, c6gn, t4g ...: a g among the letters
  # after the generation digit) need the arm64 image. internal/config's
  # isArm decides the same; its test runs one table of types through both.
  graviton_pattern = "^([a-z]+[0-9]+[a-z]*g[a-z]*|a1)\\."
  controller_arch  = can(regex(local.graviton_pattern, var.controller_instance_type)) ? "arm64" : "x86_64"
  pool_arch        = { for name, pool in var.worker_pools : name => can(regex(local.graviton_pattern, pool.instance_types[0])) ? "arm64" : "x86_64" }

  # The agent builds the nodes need, by Go architecture name.
  agent_arches = toset([for arch in concat([local.controller_arch], values(local.pool_arch)) : arch == "arm64" ? "arm64" : "amd64"])

  # No SSM lookup when an AMI is pinned (the emulator has no such parameter).
  ami_arches = var.ami_id == "" ? toset(concat([local.controller_arch], values(local.pool_arch))) : toset([])
}

# Latest Amazon Linux 2023 from AWS's public parameter. Read on every plan,
# but used only the first time an architecture needs an image (below).
data "aws_ssm_parameter" "al2023" {
  for_each = local.ami_arches

  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${each.key}"
}

# The AMI an environment's nodes boot, pinned in its state when first looked
# up: a new Amazon Linux release changes no launch template by itself. The
# image changes only through ami_id in the environment file, or by replacing
# this record (terraform apply -replace='terraform_data.ami["x86_64"]', what
# what `kforge roll --ami latest` does) and then rolling the nodes.
resource "terraform_data" "ami" {
  for_each = local.ami_arches

  input = data.aws_ssm_parameter.al2023[each.key].insecure_value

  lifecycle {
    ignore_changes = [input]
  }
}

locals {
  controller_ami = var.ami_id != "" ? var.ami_id : terraform_data.ami[local.controller_arch].output
  pool_ami       = { for name, arch in local.pool_arch : name => var.ami_id != "" ? var.ami_id : terraform_data.ami[arch].output }
}
