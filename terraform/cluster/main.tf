# The cluster: one module per concern, wired together here.

module "kms" {
  source = "../modules/kms"

  cluster_name                           = var.cluster_name
  create_autoscaling_service_linked_role = var.create_autoscaling_service_linked_role
  tags                                   = local.tags
}

module "network" {
  source = "../modules/network"

  cluster_name     = var.cluster_name
  vpc_cidr         = var.vpc_cidr
  az_count         = var.az_count
  exclude_zone_ids = var.exclude_zone_ids
  nat_gateway      = var.nat_gateway
  # Flow logs go to the log bucket of the buckets module. The emulator
  # takes the S3 destination's prefix for part of the bucket name and
  # refuses it, so flow logs are left out there (docs/EMULATOR-NOTES.md).
  flow_logs             = var.vpc_flow_logs && !local.emulated
  flow_logs_destination = module.buckets.log_bucket_arn
  tags                  = local.tags
}

module "buckets" {
  source = "../modules/buckets"

  cluster_name  = var.cluster_name
  kms_key_arn   = module.kms.key_arn
  force_destroy = var.certs_bucket_force_destroy
  # The emulator treats every policy condition as unmet; see output "notes".
  enforce_tls_and_sse = !local.emulated
  # moto drops NewerNoncurrentVersions from a lifecycle rule it stores.
  noncurrent_versions_kept = local.emulated ? null : 3
  log_bucket               = var.vpc_flow_logs || var.certs_bucket_access_logs
  # The emulator answers PutBucketLogging with 400 (docs/EMULATOR-NOTES.md).
  access_logs        = var.certs_bucket_access_logs && !local.emulated
  log_retention_days = var.log_retention_days
  tags               = local.tags
}

module "ingress" {
  source = "../modules/ingress"

  cluster_name    = var.cluster_name
  vpc_id          = module.network.vpc_id
  vpc_cidr        = module.network.vpc_cidr
  subnet_ids      = module.network.public_subnet_ids
  http_node_port  = var.http_node_port
  https_node_port = var.https_node_port
  tags            = local.tags
}

module "dns" {
  source = "../modules/dns"
  # Hosted zones take at most 10 tags (see providers.tf).
  providers = {
    aws = aws.kforge_tags
  }

  domain  = var.domain
  zone_id = var.dns_zone_id
  vpc_id  = module.network.vpc_id
  # The emulator cannot create a private zone (see output "notes").
  api_zone_private = !local.emulated
  nlb_dns_name     = module.ingress.nlb_dns_name
  nlb_zone_id      = module.ingress.nlb_zone_id
  api_seed_address = local.api_seed_address
  # Route 53 deletes no zone holding records Terraform does not manage (a
  # delegated subdomain, a verification TXT): without this, one such
  # record fails every destroy. kforge down names them before it asks.
  force_destroy = true
  tags          = local.kforge_tags
}

module "storage" {
  source = "../modules/storage"

  cluster_name              = var.cluster_name
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.node_subnet_ids
  kms_key_arn               = module.kms.key_arn
  client_security_group_ids = [module.control_plane.security_group_id, module.workers.security_group_id]
  enforce_tls               = !local.emulated
  backups                   = var.efs_backups && !local.emulated
  tags                      = local.tags
}

module "iam" {
  source = "../modules/iam"

  cluster_name        = var.cluster_name
  bucket_arn          = module.buckets.bucket_arn
  kms_key_arn         = module.kms.key_arn
  zone_id             = module.dns.api_zone_id
  api_record_name     = lower("api.${var.domain}")
  efs_file_system_arn = module.storage.file_system_arn
  tags                = local.tags
}

# The node groups: one module, one instance per role, each writing rules
# into its own security group only.
module "control_plane" {
  source = "../modules/node-group"

  role         = "controller"
  cluster_name = var.cluster_name
  vpc_id       = module.network.vpc_id
  vpc_cidr     = module.network.vpc_cidr
  subnet_ids   = module.network.node_subnet_ids
  groups = {
    (local.controller_group) = {
      instance_types = [var.controller_instance_type]
      min_size       = 1
      desired_size   = 1
      max_size       = 1
      volume_size    = var.controller_volume_size
    }
  }
  ami_ids                 = { (local.controller_group) = local.controller_ami }
  user_data               = { (local.controller_group) = local.controller_user_data }
  admin_cidrs             = var.admin_cidrs
  peer_security_group_ids = [module.workers.security_group_id]
  kms_key_arn             = module.kms.key_arn
  instance_profile_name   = module.iam.controller_instance_profile_name
  tags                    = local.tags
}

module "workers" {
  source = "../modules/node-group"

  role                      = "worker"
  cluster_name              = var.cluster_name
  vpc_id                    = module.network.vpc_id
  vpc_cidr                  = module.network.vpc_cidr
  subnet_ids                = module.network.node_subnet_ids
  groups                    = local.worker_pools
  ami_ids                   = local.pool_ami
  user_data                 = local.worker_user_data
  kms_key_arn               = module.kms.key_arn
  instance_profile_name     = module.iam.worker_instance_profile_name
  target_group_arns         = values(module.ingress.target_group_arns)
  nlb_security_group_id     = module.ingress.security_group_id
  node_ports                = [var.http_node_port, var.https_node_port]
  extra_egress              = var.worker_egress
  peer_security_group_ids   = [module.control_plane.security_group_id]
  wait_for_capacity_timeout = local.wait_for_capacity_timeout
  tags                      = local.tags
}

# The node events queue the control plane's drainer reads: termination
# lifecycle actions of every worker group (the hook is in that module too),
# Spot interruption warnings, rebalance recommendations, state changes and
# scheduled changes (docs/OPERATIONS.md). Every cluster has a worker pool,
# so every cluster has the queue.
module "interruption" {
  source = "../modules/interruption"

  cluster_name  = var.cluster_name
  worker_groups = module.workers.asg_names
  tags          = local.tags
}
