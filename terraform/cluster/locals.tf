locals {
  tags = merge(var.tags, {
    "kforge.io/cluster"     = var.cluster_name
    "kforge.io/environment" = var.environment
  })

  agent_key  = "bootstrap/kforge-node"
  config_key = "bootstrap/cluster.json"

  # Placeholder address api.<domain> is created with: the last usable host of
  # the VPC range, which no node gets. The control plane replaces it on boot.
  api_seed_address = cidrhost(var.vpc_cidr, -2)

  # The wait for a pool's capacity needs instances to reach InService, which
  # the emulator does instantly and real AWS within minutes.
  wait_for_capacity_timeout = local.emulated ? "2m" : "10m"
}
