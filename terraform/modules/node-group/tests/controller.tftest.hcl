# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  role                    = "controller"
  cluster_name            = "kforge-test"
  vpc_id                  = "vpc-12345678"
  vpc_cidr                = "10.0.0.0/16"
  subnet_ids              = ["subnet-1", "subnet-2"]
  admin_cidrs             = ["203.0.113.10/32"]
  peer_security_group_ids = ["sg-workers"]
  groups = {
    controller = { instance_types = ["t3.medium"], min_size = 1, desired_size = 1, max_size = 1 }
  }
  ami_ids               = { controller = "ami-0123456789abcdef0" }
  kms_key_arn           = "arn:aws:kms:eu-west-1:123456789012:key/test"
  instance_profile_name = "kforge-test-controller"
  user_data             = { controller = "#!/bin/bash\necho hello\n" }
}

run "imdsv2_and_encrypted_root" {
  command = apply

  assert {
    condition     = aws_launch_template.this["controller"].metadata_options[0].http_tokens == "required" && aws_launch_template.this["controller"].metadata_options[0].http_put_response_hop_limit == 1
    error_message = "IMDSv2 required with hop limit 1 (only the host network reaches the role)"
  }
  assert {
    condition     = aws_launch_template.this["controller"].metadata_options[0].instance_metadata_tags == "disabled"
    error_message = "instance tags explicitly kept out of IMDS"
  }
  # EC2 refuses to launch when tags are in the metadata service and a tag key
  # is outside [0-9a-zA-Z-_+=,.@:]{1,255} (kforge.io/role has a "/").
  assert {
    condition = aws_launch_template.this["controller"].metadata_options[0].instance_metadata_tags == "disabled" || alltrue(concat(
      flatten([for ts in aws_launch_template.this["controller"].tag_specifications : [for k in keys(ts.tags) : can(regex("^[0-9a-zA-Z\\-_+=,.@:]{1,255}$", k))] if ts.resource_type == "instance"]),
      [for t in aws_autoscaling_group.this["controller"].tag : can(regex("^[0-9a-zA-Z\\-_+=,.@:]{1,255}$", t.key)) if t.propagate_at_launch],
    ))
    error_message = "tags in instance metadata need every instance tag key to match [0-9a-zA-Z-_+=,.@:]{1,255}"
  }
  assert {
    condition     = aws_launch_template.this["controller"].block_device_mappings[0].ebs[0].encrypted == "true" && aws_launch_template.this["controller"].block_device_mappings[0].ebs[0].volume_type == "gp3" && aws_launch_template.this["controller"].block_device_mappings[0].ebs[0].kms_key_id == var.kms_key_arn
    error_message = "encrypted gp3 root volume under the cluster key"
  }
  assert {
    condition     = aws_autoscaling_group.this["controller"].min_size == 1 && aws_autoscaling_group.this["controller"].max_size == 1 && aws_autoscaling_group.this["controller"].desired_capacity == 1
    error_message = "an ASG of exactly one"
  }
  assert {
    condition     = aws_autoscaling_group.this["controller"].vpc_zone_identifier == toset(var.subnet_ids)
    error_message = "the controller may land in any zone"
  }
}

run "api_only_from_vpc_and_admins" {
  command = apply

  assert {
    condition     = aws_vpc_security_group_ingress_rule.api_vpc[0].cidr_ipv4 == "10.0.0.0/16" && aws_vpc_security_group_ingress_rule.api_vpc[0].from_port == 6443
    error_message = "6443 from the VPC"
  }
  assert {
    condition     = [for r in aws_vpc_security_group_ingress_rule.api_admin : r.cidr_ipv4] == ["203.0.113.10/32"] && alltrue([for r in aws_vpc_security_group_ingress_rule.api_admin : r.from_port == 6443 && r.to_port == 6443])
    error_message = "6443 from the admin CIDRs, nothing else"
  }
  assert {
    condition     = aws_vpc_security_group_ingress_rule.etcd[0].from_port == 2379 && aws_vpc_security_group_ingress_rule.etcd[0].to_port == 2380 && aws_vpc_security_group_ingress_rule.etcd[0].referenced_security_group_id == aws_security_group.this.id
    error_message = "etcd only between control-plane nodes"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.nodes : r.referenced_security_group_id != null && r.cidr_ipv4 == null])
    error_message = "kubelet and CNI ports only from node security groups"
  }
  assert {
    condition     = toset([for k, r in aws_vpc_security_group_ingress_rule.nodes : "${r.ip_protocol}/${r.from_port}"]) == toset(["tcp/10250", "udp/8472", "tcp/4240", "icmp/8"])
    error_message = "kubelet 10250, Cilium VXLAN 8472/udp and health 4240/tcp + ICMP echo"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.nodes) == 8
    error_message = "each node port from the controller group itself and from the worker group"
  }
}

# Egress: HTTPS anywhere, everything else only to the cluster's own groups
# or NFS within the VPC (issue 14, finding 6).
run "egress_narrowed" {
  command = apply

  assert {
    condition     = "${aws_vpc_security_group_egress_rule.https.ip_protocol}/${aws_vpc_security_group_egress_rule.https.from_port}-${aws_vpc_security_group_egress_rule.https.to_port}/${aws_vpc_security_group_egress_rule.https.cidr_ipv4}" == "tcp/443-443/0.0.0.0/0"
    error_message = "the only egress to 0.0.0.0/0 is TCP 443"
  }
  assert {
    condition     = length(aws_vpc_security_group_egress_rule.acme_http) == 0
    error_message = "no HTTP egress on the control plane: cert-manager runs on the workers"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_egress_rule.nodes : r.cidr_ipv4 == null && contains([aws_security_group.this.id, "sg-workers"], r.referenced_security_group_id)]) && toset([for r in aws_vpc_security_group_egress_rule.nodes : "${r.ip_protocol}/${r.from_port}"]) == toset(["tcp/10250", "udp/8472", "tcp/4240", "icmp/8"])
    error_message = "kubelet, Cilium VXLAN, health and ICMP echo only to the cluster's node groups"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_egress_rule.control_plane : r.referenced_security_group_id == aws_security_group.this.id])
    error_message = "API and etcd egress only between control-plane nodes"
  }
  assert {
    condition     = aws_vpc_security_group_egress_rule.nfs.cidr_ipv4 == "10.0.0.0/16" && aws_vpc_security_group_egress_rule.nfs.from_port == 2049
    error_message = "NFS only within the VPC"
  }
}

run "rejects_oversized_user_data" {
  command = plan

  variables {
    user_data = { controller = join("", [for i in range(1000) : "xxxxxxxxxxxxxx"]) }
  }

  expect_failures = [var.user_data]
}

# What the role decides: names kept from before the roles shared a module,
# no worker-only rules or tags, nothing in the NLB target groups.
run "controller_role_only" {
  command = apply

  variables {
    target_group_arns = ["arn:tg-http"]
  }

  assert {
    condition     = aws_security_group.this.name == "kforge-test-controller" && aws_launch_template.this["controller"].name == "kforge-test-controller" && aws_autoscaling_group.this["controller"].name == "kforge-test-controller"
    error_message = "group, launch template and ASG are named <cluster_name>-controller"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.node_ports) == 0 && length(aws_autoscaling_group.this["controller"].target_group_arns) == 0
    error_message = "no node ports and no target groups on the control plane"
  }
  assert {
    condition     = length(aws_autoscaling_group.this["controller"].suspended_processes) == 0
    error_message = "the control plane's group of one suspends nothing"
  }
  assert {
    condition     = !anytrue([for t in aws_autoscaling_group.this["controller"].tag : startswith(t.key, "k8s.io/cluster-autoscaler/") || t.key == "kforge.io/pool"])
    error_message = "no Cluster Autoscaler discovery or pool tags on the control plane"
  }
  assert {
    condition     = contains([for t in aws_autoscaling_group.this["controller"].tag : "${t.key}=${t.value}/${t.propagate_at_launch}"], "kforge.io/role=controller/true")
    error_message = "the role tag propagated to the instance"
  }
}

run "rejects_two_controllers" {
  command = plan

  variables {
    groups = {
      controller = { instance_types = ["t3.medium"], min_size = 1, desired_size = 2, max_size = 2 }
    }
  }

  expect_failures = [var.groups]
}

run "rejects_spot_controller" {
  command = plan

  variables {
    groups = {
      controller = { instance_types = ["t3.medium", "t3a.medium"], min_size = 1, desired_size = 1, max_size = 1, capacity = "spot" }
    }
  }

  expect_failures = [var.groups]
}

run "rejects_unknown_role" {
  command = plan

  variables {
    role = "master"
  }

  expect_failures = [var.role]
}
