locals {
  # Graviton families (m7g, c6gn, t4g ...) need the arm64 image.
  controller_arch = can(regex("^[a-z]+[0-9]+[a-z]*g[a-z]*\\.", var.controller_instance_type)) ? "arm64" : "x86_64"
  pool_arch       = { for name, pool in var.worker_pools : name => can(regex("^[a-z]+[0-9]+[a-z]*g[a-z]*\\.", pool.instance_types[0])) ? "arm64" : "x86_64" }

  # The agent builds the nodes need, by Go architecture name.
  agent_arches = toset([for arch in concat([local.controller_arch], values(local.pool_arch)) : arch == "arm64" ? "arm64" : "amd64"])

  # No SSM lookup when an AMI is pinned (the emulator has no such parameter).
  ami_arches = var.ami_id == "" ? toset(concat([local.controller_arch], values(local.pool_arch))) : toset([])
}

# Latest Amazon Linux 2023 from AWS's public parameter; a new release shows
# up as a launch template change (and a rolling instance refresh of workers).
data "aws_ssm_parameter" "al2023" {
  for_each = local.ami_arches

  name = "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-${each.key}"
}

locals {
  controller_ami = var.ami_id != "" ? var.ami_id : data.aws_ssm_parameter.al2023[local.controller_arch].insecure_value
  pool_ami       = { for name, arch in local.pool_arch : name => var.ami_id != "" ? var.ami_id : data.aws_ssm_parameter.al2023[arch].insecure_value }
}
