locals {
  # Ranges a pod or service network must not overlap: this network,
  # loopback, link-local (the instance metadata service, the VPC's DNS and
  # NTP) and multicast with the reserved block above it; as
  # internal/config's specialRanges.
  unroutable_ranges = ["0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/3"]

  # kforge's own tags: the sweep and the teardown check find a cluster's
  # resources by kforge.io/cluster.
  kforge_tags = {
    "kforge.io/cluster"     = var.cluster_name
    "kforge.io/environment" = var.environment
  }
  tags = merge(var.tags, local.kforge_tags)

  # Pools that run the ingress controller (by default those without a hard
  # taint): only they join the NLB target groups, and they carry the node
  # label Traefik is placed by (internal/addons), also as a Cluster
  # Autoscaler template label so such a pool scales up from zero.
  ingress_label = "kforge.io/ingress"
  pool_ingress  = { for name, p in var.worker_pools : name => coalesce(p.ingress, !anytrue([for t in p.taints : can(regex(":(NoSchedule|NoExecute)$", t))])) }
  worker_pools = { for name, p in var.worker_pools : name => merge(p, {
    ingress = local.pool_ingress[name]
    labels  = merge(p.labels, local.pool_ingress[name] ? { (local.ingress_label) = "true" } : {})
  }) }

  # The control plane's one node group: its launch template and ASG are
  # <cluster_name>-controller, which is why no worker pool may be called
  # "controller" (internal/config refuses it).
  controller_group = "controller"

  agent_key  = "bootstrap/kforge-node"
  config_key = "bootstrap/cluster.json"

  # Placeholder address api.<domain> is created with: the last usable host of
  # the VPC range, which no node gets. The control plane replaces it on boot.
  api_seed_address = cidrhost(var.vpc_cidr, -2)

  # The wait for a pool's capacity needs instances to reach InService, which
  # the emulator does instantly and real AWS within minutes.
  wait_for_capacity_timeout = local.emulated ? "2m" : "10m"
}
