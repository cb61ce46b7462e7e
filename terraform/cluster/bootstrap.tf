# What a node needs to bootstrap itself, next to each other under the
# bucket's bootstrap/ prefix (readable by every node, SSE-KMS with the
# cluster key). Nothing secret: PKI and join tokens are made on the control
# plane and never pass through Terraform.

# One agent per architecture; the user data picks its own by uname -m.
resource "aws_s3_object" "agent" {
  provider = aws.kforge_tags
  for_each = var.agent_binary_paths

  bucket                 = module.buckets.bucket_name
  key                    = "${local.agent_key}-${each.key}"
  source                 = each.value
  source_hash            = filesha256(each.value)
  content_type           = "application/octet-stream"
  server_side_encryption = "aws:kms"
  kms_key_id             = module.kms.key_arn
  tags                   = local.kforge_tags
}

locals {
  # What a worker applies when it joins, by pool: in cluster.json for the
  # agent, and as a digest in the pool's user data.
  pool_join_settings = { for name, pool in local.worker_pools : name => { labels = pool.labels, taints = pool.taints, ingress = pool.ingress } }

  # Keys shared with the node agent (internal/node decodes them); they
  # override anything of the same name in var.node_config.
  cluster_config = merge(jsondecode(var.node_config), {
    cluster_name        = var.cluster_name
    environment         = var.environment
    region              = var.region
    domain              = var.domain
    api_dns_name        = "api.${var.domain}"
    kubernetes_version  = var.kubernetes_version
    pod_cidr            = var.pod_cidr
    service_cidr        = var.service_cidr
    bucket              = module.buckets.bucket_name
    kms_key_arn         = module.kms.key_arn
    zone_id             = module.dns.zone_id
    api_zone_id         = module.dns.api_zone_id
    efs_id              = module.storage.file_system_id
    acme_email          = var.acme_email
    http_node_port      = var.http_node_port
    https_node_port     = var.https_node_port
    worker_pools        = local.pool_join_settings
    controller_asg_name = "${var.cluster_name}-${local.controller_group}"
    # kforge-backup.timer's interval on the control plane.
    backup_interval_minutes = var.backup_interval_minutes
    # etcd's quota, which kubeadm init on the control plane applies.
    etcd_quota_gib = var.etcd_quota_gib
    # kforge-drain-events.service on the control plane reads this queue and
    # answers this hook; the heartbeat bounds its drain.
    node_events_queue_url            = module.interruption.queue_url
    lifecycle_hook_name              = module.interruption.lifecycle_hook_name
    lifecycle_hook_heartbeat_seconds = module.interruption.lifecycle_heartbeat_seconds
    # The control plane approves a joining worker's kubelet only for a
    # proof signed by this role's session of that instance.
    worker_role_arn = module.iam.worker_role_arn
  })

  # The keys come from the objects, so no node launches before they exist.
  # uname -m names the architectures differently from Go. The version pins
  # the agent this launch template's checksum is of: a newer agent uploaded
  # since (the next apply, or one that stopped before the groups moved to
  # the new template) must not make its instances power off.
  user_data_vars = {
    region = var.region
    bucket = module.buckets.bucket_name
    agents = { for arch, obj in aws_s3_object.agent : arch => {
      machine = arch == "arm64" ? "aarch64" : "x86_64"
      key     = obj.key
      version = obj.version_id == null ? "" : obj.version_id
      sha256  = filesha256(var.agent_binary_paths[arch])
    } }
    config_key         = aws_s3_object.cluster_config.key
    kubernetes_version = var.kubernetes_version
    etcd_quota_gib     = var.etcd_quota_gib
  }

  controller_user_data = templatefile("${path.module}/templates/user-data.sh.tftpl", merge(local.user_data_vars, { role = "controller", pool = "", pool_settings = "" }))
  # A worker applies its pool's labels and taints (ingress among them) only
  # when it joins: their digest in the user data makes a change of them a
  # new launch template version, which `kforge roll --pool` replaces.
  worker_user_data = { for name, _ in var.worker_pools : name => templatefile("${path.module}/templates/user-data.sh.tftpl", merge(local.user_data_vars, {
    role          = "worker"
    pool          = name
    pool_settings = substr(sha256(jsonencode(local.pool_join_settings[name])), 0, 16)
  })) }
}

resource "aws_s3_object" "cluster_config" {
  provider = aws.kforge_tags

  bucket                 = module.buckets.bucket_name
  key                    = local.config_key
  content                = jsonencode(local.cluster_config)
  content_type           = "application/json"
  server_side_encryption = "aws:kms"
  kms_key_id             = module.kms.key_arn
  tags                   = local.kforge_tags

  lifecycle {
    precondition {
      condition     = length(setsubtract(local.agent_arches, keys(var.agent_binary_paths))) == 0
      error_message = "agent_binary_paths has no agent for ${join(", ", setsubtract(local.agent_arches, keys(var.agent_binary_paths)))}, which the control plane or a worker pool runs on: add the linux kforge binary for it."
    }
  }
}
