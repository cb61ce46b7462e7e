# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

# Offline checks of the root module with a mocked AWS provider: the
# real-AWS configuration (bucket policy with the TLS-only statement, AMI from
# SSM), the emulator configuration, and every input validation.

mock_provider "aws" {
  source = "../tests/mocks/aws"

  # The image every node boots when ami_id is empty, as asserted below.
  mock_data "aws_ssm_parameter" {
    defaults = {
      insecure_value = "ami-0123456789abcdef0"
    }
  }
}

# S3 objects and hosted zones (providers.tf): no default tags to mock.
mock_provider "aws" {
  alias = "kforge_tags"
}

variables {
  cluster_name       = "kforge-dev"
  environment        = "dev"
  region             = "eu-west-1"
  domain             = "dev.example.com"
  kubernetes_version = "1.36.2"
  acme_email         = "ops@example.com"
  agent_binary_paths = { amd64 = "tests/fixtures/kforge-node" }
  worker_pools = {
    general = {
      instance_types = ["t3.medium"]
      min_size       = 1
      desired_size   = 1
      max_size       = 3
      labels         = { "kforge.io/pool" = "general" }
    }
  }
}

# What a real environment plans: this is where the TLS-only bucket policy
# is proven, since the emulator denies every conditional request.
run "real_aws_configuration" {
  command = apply

  assert {
    condition = anytrue([for s in jsondecode(module.buckets.policy_json).Statement :
    s.Effect == "Deny" && s.Action == "s3:*" && try(s.Condition.Bool["aws:SecureTransport"], "") == "false"])
    error_message = "the certs bucket policy denies non-TLS access"
  }
  assert {
    condition     = module.buckets.policy_enforced && module.storage.policy_enforced && length(output.notes) == 0 && !output.emulated
    error_message = "on AWS the bucket and file system policies are applied and nothing is left out"
  }
  assert {
    condition     = module.buckets.noncurrent_versions_kept == 3
    error_message = "on AWS the certs bucket keeps the three newest noncurrent versions of each object (an agent a launch template may still pin)"
  }
  assert {
    condition     = !module.storage.backups_enabled
    error_message = "the file system's automatic backups are off unless efs_backups"
  }
  assert {
    condition     = module.dns.api_zone_vpc_ids == [module.network.vpc_id] && output.api_zone_id != output.zone_id
    error_message = "on AWS api.<domain> is in its own zone, private to the cluster VPC"
  }
  assert {
    condition     = output.node_events_queue_url != "" && module.interruption.hooked_groups == sort(values(module.workers.asg_names)) && jsondecode(aws_s3_object.cluster_config.content).lifecycle_hook_name == "kforge-drain" && jsondecode(aws_s3_object.cluster_config.content).lifecycle_hook_heartbeat_seconds == 600
    error_message = "without a Spot pool too: the node events queue, a termination hook on every worker group, and the drainer's settings in cluster.json"
  }
  assert {
    condition     = jsondecode(aws_s3_object.cluster_config.content).worker_role_arn == module.iam.worker_role_arn
    error_message = "cluster.json names the worker role, whose sessions alone may prove a joining worker's identity"
  }
  assert {
    condition     = module.workers.launch_template_ids["general"] != "" && length(data.aws_ssm_parameter.al2023) == 1 && local.controller_ami == "ami-0123456789abcdef0"
    error_message = "without ami_id the AMI comes from the AL2023 SSM parameter"
  }
  assert {
    condition     = length(base64encode(local.controller_user_data)) < 16384 && strcontains(local.controller_user_data, "controller") && alltrue([for u in values(local.worker_user_data) : length(base64encode(u)) < 16384])
    error_message = "user data renders under 16 KB"
  }
  assert {
    condition     = alltrue([for k in ["cluster_name", "environment", "region", "domain", "api_dns_name", "kubernetes_version", "pod_cidr", "service_cidr", "bucket", "kms_key_arn", "zone_id", "efs_id", "acme_email", "http_node_port", "https_node_port", "worker_pools", "controller_asg_name", "backup_interval_minutes", "etcd_quota_gib"] : contains(keys(jsondecode(aws_s3_object.cluster_config.content)), k)])
    error_message = "cluster.json carries every contract key"
  }
  assert {
    condition     = aws_s3_object.agent["amd64"].server_side_encryption == "aws:kms" && aws_s3_object.cluster_config.server_side_encryption == "aws:kms" && aws_s3_object.agent["amd64"].key == "bootstrap/kforge-node-amd64" && aws_s3_object.cluster_config.key == "bootstrap/cluster.json"
    error_message = "bootstrap objects under SSE-KMS at the agreed keys"
  }
  assert {
    condition     = output.api_endpoint == "https://api.dev.example.com:6443" && output.api_dns_name == "api.dev.example.com"
    error_message = "API name and endpoint"
  }
}

run "emulator_configuration" {
  command = apply

  variables {
    aws_endpoint_url = "http://127.0.0.1:5000"
    ami_id           = "ami-760aaa0f"
    node_config      = "{\"cluster_name\": \"overridden\", \"extra\": 1}"
  }

  assert {
    condition     = !module.buckets.policy_enforced && length(output.notes) == 3 && output.emulated
    error_message = "against the emulator the conditional bucket policy is left out, and the notes say so"
  }
  assert {
    condition     = module.buckets.noncurrent_versions_kept == null
    error_message = "against the emulator, which drops it, the lifecycle rule has no NewerNoncurrentVersions"
  }
  assert {
    condition     = !module.storage.policy_enforced && anytrue([for n in output.notes : strcontains(n, "EFS file system policy")])
    error_message = "against the emulator the file system policy is left out, and the notes say so"
  }
  assert {
    condition     = length(module.dns.api_zone_vpc_ids) == 0 && anytrue([for n in output.notes : strcontains(n, "api.<domain> zone")])
    error_message = "against the emulator the API zone is not attached to the VPC, and the notes say so"
  }
  assert {
    condition     = length(data.aws_ssm_parameter.al2023) == 0 && local.controller_ami == "ami-760aaa0f"
    error_message = "a pinned AMI needs no SSM lookup"
  }
  assert {
    condition     = jsondecode(aws_s3_object.cluster_config.content).cluster_name == "kforge-dev" && jsondecode(aws_s3_object.cluster_config.content).extra == 1
    error_message = "node_config is merged in, the contract keys win"
  }
}

# efs_backups turns the file system's automatic backups on; the emulator,
# which has no PutBackupPolicy, leaves them out and says so.
run "efs_backups" {
  command = plan

  variables {
    efs_backups = true
  }

  assert {
    condition     = module.storage.backups_enabled && length(output.notes) == 0
    error_message = "efs_backups = true turns the file system's automatic backups on"
  }
}

run "efs_backups_on_the_emulator" {
  command = plan

  variables {
    efs_backups      = true
    aws_endpoint_url = "http://127.0.0.1:5000"
    ami_id           = "ami-760aaa0f"
  }

  assert {
    condition     = !module.storage.backups_enabled && length(output.notes) == 4 && anytrue([for n in output.notes : strcontains(n, "EFS automatic backups")])
    error_message = "against the emulator the automatic backups are left out, and the notes say so"
  }
}

# No silent rolls: the first apply records the AMI the SSM parameter names;
# a later Amazon Linux release (the parameter moves on) leaves every launch
# template's image as it was, and nothing starts an instance refresh.
run "ami_recorded_on_first_apply" {
  command = apply

  assert {
    condition     = terraform_data.ami["x86_64"].output == "ami-0123456789abcdef0" && output.amis.controller == "ami-0123456789abcdef0" && output.amis.general == "ami-0123456789abcdef0"
    error_message = "the first apply pins the AMI the SSM parameter names"
  }
}

run "new_release_and_agent_build_change_no_image" {
  command = plan

  variables {
    # Another agent build (different bytes, so a different SHA-256).
    agent_binary_paths = { amd64 = "tests/fixtures/kforge-node-arm64" }
  }

  override_data {
    target = data.aws_ssm_parameter.al2023["x86_64"]
    values = {
      insecure_value = "ami-0fedcba9876543210"
    }
  }

  assert {
    condition     = data.aws_ssm_parameter.al2023["x86_64"].insecure_value == "ami-0fedcba9876543210"
    error_message = "the test must see a new Amazon Linux release, or it proves nothing"
  }
  assert {
    condition     = local.controller_ami == "ami-0123456789abcdef0" && alltrue([for ami in values(local.pool_ami) : ami == "ami-0123456789abcdef0"]) && output.amis.controller == "ami-0123456789abcdef0"
    error_message = "a new Amazon Linux release must not change the pinned AMI"
  }
  assert {
    condition     = strcontains(local.worker_user_data["general"], filesha256("tests/fixtures/kforge-node-arm64")) && !strcontains(local.worker_user_data["general"], filesha256("tests/fixtures/kforge-node"))
    error_message = "the new agent's hash reaches the launch templates (for new instances)"
  }
}

# etcd's quota is applied by kubeadm init on the control plane alone: it
# reaches cluster.json, and the control plane's user data names it so that
# a change makes a new launch template version for `kforge roll
# --control-plane`; the workers' user data stays as it was.
run "etcd_quota_reaches_the_control_plane_only" {
  command = plan

  variables {
    etcd_quota_gib = 3
  }

  assert {
    condition     = jsondecode(aws_s3_object.cluster_config.content).etcd_quota_gib == 3
    error_message = "cluster.json carries the etcd quota"
  }
  assert {
    condition     = strcontains(local.controller_user_data, "# etcd quota 3 GiB:") && alltrue([for u in values(local.worker_user_data) : !strcontains(u, "etcd quota")])
    error_message = "the control plane's user data names the etcd quota, and no worker's does"
  }
}

# What `kforge roll --ami latest` does: an apply replacing the record takes
# the parameter's new value, and every launch template follows.
run "roll_ami_latest_replaces_the_record" {
  command = apply

  plan_options {
    replace = [terraform_data.ami["x86_64"]]
  }

  override_data {
    target = data.aws_ssm_parameter.al2023["x86_64"]
    values = {
      insecure_value = "ami-0fedcba9876543210"
    }
  }

  assert {
    condition     = terraform_data.ami["x86_64"].output == "ami-0fedcba9876543210" && output.amis.controller == "ami-0fedcba9876543210" && alltrue([for ami in values(output.amis) : ami == "ami-0fedcba9876543210"])
    error_message = "replacing the record must pin the latest release for every node group"
  }
}

run "ami_id_overrides_the_record" {
  command = plan

  variables {
    ami_id = "ami-0aaaaaaaaaaaaaaaa"
  }

  assert {
    condition     = local.controller_ami == "ami-0aaaaaaaaaaaaaaaa" && output.amis.general == "ami-0aaaaaaaaaaaaaaaa" && length(terraform_data.ami) == 0
    error_message = "an explicit ami_id is the one way, besides replacing the record, to change the image"
  }
}

run "graviton_pool_gets_arm_image" {
  command = plan

  variables {
    agent_binary_paths = { amd64 = "tests/fixtures/kforge-node", arm64 = "tests/fixtures/kforge-node-arm64" }
    worker_pools = {
      arm = { instance_types = ["m7g.large"], min_size = 1, desired_size = 1, max_size = 2 }
    }
  }

  assert {
    condition     = local.pool_arch["arm"] == "arm64" && local.controller_arch == "x86_64" && length(data.aws_ssm_parameter.al2023) == 2
    error_message = "arm64 and x86_64 images looked up as needed"
  }
}

run "rejects_missing_agent" {
  command = plan
  variables {
    agent_binary_paths = { amd64 = "tests/fixtures/does-not-exist" }
  }
  expect_failures = [var.agent_binary_paths]
}

# A mixed cluster: amd64 control plane, an arm64 Spot pool. Both agents are
# uploaded, and every node's user data can choose either by uname -m.
run "mixed_architectures" {
  command = apply
  variables {
    agent_binary_paths = { amd64 = "tests/fixtures/kforge-node", arm64 = "tests/fixtures/kforge-node-arm64" }
    worker_pools = {
      general = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3 }
      arm     = { instance_types = ["t4g.medium", "c7g.large"], min_size = 0, desired_size = 1, max_size = 3, capacity = "spot" }
    }
  }
  assert {
    condition     = toset(keys(aws_s3_object.agent)) == toset(["amd64", "arm64"]) && aws_s3_object.agent["arm64"].key == "bootstrap/kforge-node-arm64"
    error_message = "one agent object per architecture"
  }
  assert {
    condition = alltrue([for u in concat([local.controller_user_data], values(local.worker_user_data)) :
      strcontains(u, "x86_64)") && strcontains(u, "aarch64)") && strcontains(u, filesha256("tests/fixtures/kforge-node-arm64")) && strcontains(u, filesha256("tests/fixtures/kforge-node"))
    ])
    error_message = "every node's user data chooses its agent and pinned SHA-256 by uname -m"
  }
  assert {
    condition     = local.pool_arch["arm"] == "arm64" && local.pool_arch["general"] == "x86_64" && length(data.aws_ssm_parameter.al2023) == 2
    error_message = "the arm pool boots the arm64 image, the others x86_64"
  }
  assert {
    condition     = output.node_events_queue_url != "" && length(module.interruption.hooked_groups) == length(var.worker_pools)
    error_message = "a Spot pool's group has the termination hook, and the queue gets its events"
  }
}

run "rejects_missing_architecture" {
  command = plan
  variables {
    worker_pools = {
      arm = { instance_types = ["t4g.medium"], min_size = 1, desired_size = 1, max_size = 3 }
    }
  }
  expect_failures = [aws_s3_object.cluster_config]
}

run "rejects_bad_endpoint" {
  command = plan
  variables {
    aws_endpoint_url = "127.0.0.1:5000"
  }
  expect_failures = [var.aws_endpoint_url]
}

run "rejects_bad_ami" {
  command = plan
  variables {
    ami_id = "ubuntu"
  }
  expect_failures = [var.ami_id]
}

run "rejects_node_config_not_object" {
  command = plan
  variables {
    node_config = "[1]"
  }
  expect_failures = [var.node_config]
}

# The build of the last apply is recorded in the state for kforge's
# downgrade check (internal/cluster/kforgeversion.go).
run "kforge_version_recorded" {
  command = plan
  variables {
    kforge_version = "v1.4.0-3-gabc1234-dirty"
  }
  assert {
    condition     = output.kforge_version == "v1.4.0-3-gabc1234-dirty"
    error_message = "the kforge_version output records the kforge_version input"
  }
}

run "rejects_bad_kforge_version" {
  command = plan
  variables {
    kforge_version = "v1.4.0 (dev)"
  }
  expect_failures = [var.kforge_version]
}

# A worker applies its pool's labels and taints only when it joins: its
# user data names a digest of what cluster.json gives the pool, so a change
# of them (and of ingress, which adds a label) makes a new launch template
# version of that pool, which `kforge roll --pool` replaces, while its size
# and instance types leave it alone.
run "pool_labels_and_taints_reach_the_user_data" {
  command = plan

  variables {
    worker_pools = {
      general = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3, labels = { team = "a" } }
      bigger  = { instance_types = ["m5.large", "m5a.large"], min_size = 0, desired_size = 0, max_size = 10, labels = { team = "a" } }
      other   = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3, labels = { team = "b" } }
      tainted = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3, labels = { team = "a" }, taints = ["spot=true:PreferNoSchedule"] }
      private = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3, labels = { team = "a" }, ingress = false }
    }
  }

  assert {
    condition = alltrue([for name, u in local.worker_user_data :
    strcontains(u, "# Pool labels and taints ${substr(sha256(jsonencode(jsondecode(aws_s3_object.cluster_config.content).worker_pools[name])), 0, 16)}:")])
    error_message = "each worker's user data names the digest of its pool's labels, taints and ingress as cluster.json gives them to the agent"
  }
  assert {
    condition = (regex("# Pool labels and taints ([0-9a-f]{16}):", local.worker_user_data["general"])[0] == regex("# Pool labels and taints ([0-9a-f]{16}):", local.worker_user_data["bigger"])[0]
    && length(toset([for name in ["general", "other", "tainted", "private"] : regex("# Pool labels and taints ([0-9a-f]{16}):", local.worker_user_data[name])[0]])) == 4)
    error_message = "the digest follows labels, taints and ingress, and not a pool's size or instance types"
  }
  assert {
    condition     = !strcontains(local.controller_user_data, "Pool labels and taints")
    error_message = "the control plane's user data names no pool's labels"
  }
}

# Only pools that run the ingress controller join the NLB target groups:
# by default the untainted ones, which also get the label Traefik is placed by.
run "ingress_pools" {
  command = plan

  variables {
    worker_pools = {
      general = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3 }
      system  = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3, taints = ["dedicated=system:NoSchedule"] }
      soft    = { instance_types = ["t3.medium"], min_size = 0, desired_size = 0, max_size = 3, taints = ["spot=true:PreferNoSchedule"] }
      batch   = { instance_types = ["t3.medium"], min_size = 0, desired_size = 0, max_size = 3, ingress = false }
    }
  }

  assert {
    condition     = { for k, p in local.worker_pools : k => p.ingress } == { general = true, system = false, soft = true, batch = false }
    error_message = "ingress defaults to pools without NoSchedule/NoExecute taints; an explicit false wins"
  }
  assert {
    condition     = local.worker_pools["general"].labels["kforge.io/ingress"] == "true" && !contains(keys(local.worker_pools["system"].labels), "kforge.io/ingress") && !contains(keys(local.worker_pools["batch"].labels), "kforge.io/ingress")
    error_message = "only ingress pools carry the kforge.io/ingress=true node label"
  }
  assert {
    condition     = jsondecode(aws_s3_object.cluster_config.content).worker_pools["general"].labels["kforge.io/ingress"] == "true" && !jsondecode(aws_s3_object.cluster_config.content).worker_pools["system"].ingress
    error_message = "cluster.json carries the ingress label to the agent"
  }
}
