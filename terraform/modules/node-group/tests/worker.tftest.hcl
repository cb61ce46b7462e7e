mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  role         = "worker"
  cluster_name = "kforge-test"
  vpc_id       = "vpc-12345678"
  vpc_cidr     = "10.0.0.0/16"
  subnet_ids   = ["subnet-1", "subnet-2", "subnet-3"]
  groups = {
    general = {
      instance_types = ["m6i.large"]
      min_size       = 1
      desired_size   = 2
      max_size       = 5
      labels         = { "kforge.io/pool" = "general" }
    }
    system = {
      instance_types = ["m6i.large", "m5.large"]
      min_size       = 0
      desired_size   = 1
      max_size       = 2
      taints         = ["dedicated=system:NoSchedule", "critical:NoExecute"]
      ingress        = false
    }
    spot = {
      instance_types = ["t4g.medium", "c6g.large", "c7g.large"]
      min_size       = 0
      desired_size   = 2
      max_size       = 4
      capacity       = "spot"
      on_demand_base = 1
    }
  }
  ami_ids               = { general = "ami-0123456789abcdef0", system = "ami-0123456789abcdef0", spot = "ami-0fedcba9876543210" }
  user_data             = { general = "#!/bin/bash\n", system = "#!/bin/bash\n", spot = "#!/bin/bash\n" }
  kms_key_arn           = "arn:aws:kms:eu-west-1:123456789012:key/test"
  instance_profile_name = "kforge-test-worker"
  target_group_arns     = ["arn:tg-http", "arn:tg-https"]
  nlb_security_group_id = "sg-nlb"
  tags                  = { "kforge.io/cluster" = "kforge-test" }
}

run "pools" {
  command = apply

  assert {
    condition     = alltrue([for lt in aws_launch_template.this : lt.metadata_options[0].http_tokens == "required" && lt.metadata_options[0].http_put_response_hop_limit == 1 && lt.metadata_options[0].instance_metadata_tags == "disabled"])
    error_message = "IMDSv2 required, hop limit 1 (no pod reaches the role), instance tags explicitly kept out of IMDS"
  }
  # EC2 refuses to launch when tags are in the metadata service and a tag key
  # is outside [0-9a-zA-Z-_+=,.@:]{1,255} (every key here has a "/").
  assert {
    condition = alltrue([for name, lt in aws_launch_template.this : lt.metadata_options[0].instance_metadata_tags == "disabled" || alltrue(concat(
      flatten([for ts in lt.tag_specifications : [for k in keys(ts.tags) : can(regex("^[0-9a-zA-Z\\-_+=,.@:]{1,255}$", k))] if ts.resource_type == "instance"]),
      [for t in aws_autoscaling_group.this[name].tag : can(regex("^[0-9a-zA-Z\\-_+=,.@:]{1,255}$", t.key)) if t.propagate_at_launch],
    ))])
    error_message = "tags in instance metadata need every instance tag key to match [0-9a-zA-Z-_+=,.@:]{1,255}"
  }
  assert {
    condition     = alltrue([for lt in aws_launch_template.this : lt.block_device_mappings[0].ebs[0].encrypted == "true" && lt.block_device_mappings[0].ebs[0].kms_key_id == var.kms_key_arn && lt.block_device_mappings[0].ebs[0].volume_type == "gp3"])
    error_message = "encrypted gp3 root volumes under the cluster key"
  }
  assert {
    condition     = alltrue([for name, g in aws_autoscaling_group.this : g.target_group_arns == (name == "system" ? toset([]) : toset(var.target_group_arns)) && g.vpc_zone_identifier == toset(var.subnet_ids)])
    error_message = "only ingress pools in both target groups (the tainted system pool in none); every pool in every zone"
  }
  assert {
    condition     = alltrue([for g in aws_autoscaling_group.this : g.suspended_processes == toset(["AZRebalance"])])
    error_message = "worker groups suspend AZRebalance: a Cluster Autoscaler or roll termination must not make Auto Scaling replace a loaded node in another zone"
  }
  assert {
    condition     = alltrue([for g in aws_autoscaling_group.this : length(g.instance_refresh) == 0])
    error_message = "no automatic instance refresh: a launch template change must not replace running nodes"
  }
  assert {
    condition     = length(aws_autoscaling_group.this["general"].launch_template) == 1 && length(aws_autoscaling_group.this["system"].mixed_instances_policy) == 1
    error_message = "one instance type: plain launch template; several: mixed instances policy"
  }
  assert {
    condition = alltrue([
      for d in aws_autoscaling_group.this["system"].mixed_instances_policy[0].instances_distribution :
      d.on_demand_base_capacity == 0 && d.on_demand_percentage_above_base_capacity == 100 && d.on_demand_allocation_strategy == "prioritized"
    ]) && !aws_autoscaling_group.this["system"].capacity_rebalance
    error_message = "an on-demand pool with several types stays on-demand, types in the listed order, no capacity rebalance"
  }
  assert {
    condition = alltrue([
      for d in aws_autoscaling_group.this["spot"].mixed_instances_policy[0].instances_distribution :
      d.on_demand_base_capacity == 1 && d.on_demand_percentage_above_base_capacity == 0 && d.spot_allocation_strategy == "price-capacity-optimized"
    ]) && aws_autoscaling_group.this["spot"].capacity_rebalance && length(aws_autoscaling_group.this["spot"].launch_template) == 0
    error_message = "a spot pool: on-demand base, Spot above it, price-capacity-optimized, capacity rebalance"
  }
  assert {
    condition     = [for o in aws_autoscaling_group.this["spot"].mixed_instances_policy[0].launch_template[0].override : o.instance_type] == ["t4g.medium", "c6g.large", "c7g.large"]
    error_message = "the spot pool's types as overrides, in order"
  }
  assert {
    condition     = contains([for t in aws_autoscaling_group.this["general"].tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "k8s.io/cluster-autoscaler/node-template/label/kforge.io/pool=general/false")
    error_message = "label template tag, not propagated"
  }
  assert {
    condition     = alltrue([for name, g in aws_autoscaling_group.this : contains([for t in g.tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "k8s.io/cluster-autoscaler/node-template/label/kforge.io/pool=${name}/false")])
    error_message = "every pool's template carries the kforge.io/pool label the agent sets, so a pod selecting a pool scales it up from zero"
  }
  assert {
    condition     = alltrue([for g in aws_autoscaling_group.this : g.ignore_failed_scaling_activities])
    error_message = "a launch Auto Scaling retries by itself (no Spot capacity in a zone) does not fail the apply and taint the group"
  }
  assert {
    condition     = contains([for t in aws_autoscaling_group.this["general"].tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage=24Gi/false")
    error_message = "the template's ephemeral storage is 80% of the root volume (30 GiB)"
  }
  assert {
    condition     = contains([for t in aws_autoscaling_group.this["system"].tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "k8s.io/cluster-autoscaler/node-template/taint/dedicated=system:NoSchedule/false") && contains([for t in aws_autoscaling_group.this["system"].tag : "${t.key}=${t.value}"], "k8s.io/cluster-autoscaler/node-template/taint/critical=:NoExecute")
    error_message = "taint template tags key => value:Effect"
  }
  assert {
    condition     = alltrue([for g in aws_autoscaling_group.this : contains([for t in g.tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "k8s.io/cluster-autoscaler/kforge-test=owned/false") && contains([for t in g.tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "k8s.io/cluster-autoscaler/enabled=true/false")])
    error_message = "autoscaler discovery tags on every pool"
  }
  assert {
    condition     = alltrue([for g in aws_autoscaling_group.this : contains([for t in g.tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "kforge.io/cluster=kforge-test/true")])
    error_message = "cluster tag propagated to instances"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.node_ports : r.referenced_security_group_id == "sg-nlb" && r.cidr_ipv4 == null])
    error_message = "node ports only from the NLB"
  }
  assert {
    condition     = toset([for r in aws_vpc_security_group_ingress_rule.node_ports : r.from_port]) == toset([30080, 30443])
    error_message = "node ports 30080 and 30443"
  }
}

# Egress: HTTPS anywhere, HTTP anywhere for cert-manager's HTTP-01
# self-check, everything else only to the cluster's own groups or NFS
# within the VPC (issue 14, finding 6).
run "egress_narrowed" {
  command = apply

  variables {
    peer_security_group_ids = ["sg-controller"]
  }

  assert {
    condition     = [for r in [aws_vpc_security_group_egress_rule.https] : "${r.ip_protocol}/${r.from_port}-${r.to_port}/${r.cidr_ipv4}"] == ["tcp/443-443/0.0.0.0/0"]
    error_message = "HTTPS to 0.0.0.0/0"
  }
  assert {
    condition     = [for r in aws_vpc_security_group_egress_rule.acme_http : "${r.ip_protocol}/${r.from_port}-${r.to_port}/${r.cidr_ipv4}"] == ["tcp/80-80/0.0.0.0/0"]
    error_message = "HTTP to 0.0.0.0/0, for cert-manager's HTTP-01 self-check through the NLB's public addresses"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_egress_rule.nodes : r.cidr_ipv4 == null && contains([aws_security_group.this.id, "sg-controller"], r.referenced_security_group_id)]) && toset([for r in aws_vpc_security_group_egress_rule.nodes : "${r.ip_protocol}/${r.from_port}"]) == toset(["tcp/10250", "udp/8472", "tcp/4240", "icmp/8"])
    error_message = "kubelet, Cilium VXLAN, health and ICMP echo only to the cluster's node groups"
  }
  assert {
    condition     = [for r in aws_vpc_security_group_egress_rule.control_plane : "${r.from_port}/${r.referenced_security_group_id}"] == ["6443/sg-controller"]
    error_message = "the API only on the control plane"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.nfs.cidr_ipv4 == "10.0.0.0/16" && aws_vpc_security_group_egress_rule.nfs.from_port == 2049 && aws_vpc_security_group_egress_rule.nfs.to_port == 2049
    error_message = "NFS only within the VPC"
  }
}

# The environment's own outbound rules (network.workerEgress) are added to
# kforge's, one rule each, beside the narrowed ones.
run "extra_egress" {
  command = apply

  variables {
    peer_security_group_ids = ["sg-controller"]
    extra_egress = [
      { cidr = "10.0.0.0/16", protocol = "tcp", from_port = 5432, to_port = 5432, description = "PostgreSQL in the VPC" },
      { cidr = "198.51.100.0/24", protocol = "udp", from_port = 5000, to_port = 5010, description = "" },
    ]
  }

  assert {
    condition     = toset([for r in aws_vpc_security_group_egress_rule.extra : "${r.ip_protocol}/${r.from_port}-${r.to_port}/${r.cidr_ipv4}/${r.description == null ? "null" : r.description}"]) == toset(["tcp/5432-5432/10.0.0.0/16/PostgreSQL in the VPC", "udp/5000-5010/198.51.100.0/24/null"])
    error_message = "one rule per extra_egress entry, with its protocol, ports, CIDR and description (none, not an empty one, which EC2 reads back as none)"
  }
  assert {
    condition     = [for r in [aws_vpc_security_group_egress_rule.https] : "${r.ip_protocol}/${r.from_port}-${r.to_port}/${r.cidr_ipv4}"] == ["tcp/443-443/0.0.0.0/0"]
    error_message = "kforge's own rules stay as they are"
  }
}

run "rejects_duplicate_extra_egress" {
  command = plan

  variables {
    extra_egress = [
      { cidr = "10.0.0.0/16", protocol = "tcp", from_port = 5432, to_port = 5432, description = "a" },
      { cidr = "10.0.0.0/16", protocol = "tcp", from_port = 5432, to_port = 5432, description = "b" },
    ]
  }

  expect_failures = [var.extra_egress]
}

run "rejects_min_above_desired" {
  command = plan

  variables {
    groups = {
      general = { instance_types = ["t3.medium"], min_size = 3, desired_size = 2, max_size = 5 }
    }
  }

  expect_failures = [var.groups]
}

run "rejects_on_demand_base_on_on_demand_pool" {
  command = plan

  variables {
    groups = {
      general = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3, on_demand_base = 1 }
    }
  }

  expect_failures = [var.groups]
}

run "rejects_unknown_capacity" {
  command = plan

  variables {
    groups = {
      general = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 3, capacity = "Spot" }
    }
  }

  expect_failures = [var.groups]
}

run "rejects_node_port_outside_range" {
  command = plan

  variables {
    node_ports = [80, 30443]
  }

  expect_failures = [var.node_ports]
}

run "worker_role_only" {
  command = apply

  variables {
    admin_cidrs = ["203.0.113.10/32"]
  }

  assert {
    condition     = aws_security_group.this.name == "kforge-test-workers" && aws_autoscaling_group.this["general"].name == "kforge-test-general" && aws_launch_template.this["general"].name == "kforge-test-general"
    error_message = "one workers group; launch template and ASG named <cluster_name>-<pool>"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.api_vpc) == 0 && length(aws_vpc_security_group_ingress_rule.api_admin) == 0 && length(aws_vpc_security_group_ingress_rule.etcd) == 0
    error_message = "no API or etcd ingress on the workers, admin_cidrs or not"
  }
  assert {
    condition     = alltrue([for name, g in aws_autoscaling_group.this : contains([for t in g.tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "kforge.io/pool=${name}/true") && contains([for t in g.tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "kforge.io/role=worker/true")])
    error_message = "pool and role tags propagated to the instances"
  }
}

run "rejects_missing_nlb_group" {
  command = plan

  variables {
    nlb_security_group_id = ""
  }

  expect_failures = [var.nlb_security_group_id]
}

run "rejects_capacity_timeout_without_unit" {
  command = plan

  variables {
    wait_for_capacity_timeout = "10"
  }

  expect_failures = [var.wait_for_capacity_timeout]
}
