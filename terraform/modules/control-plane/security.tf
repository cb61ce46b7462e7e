locals {
  # Ports the control plane accepts from itself and from peer node groups:
  # kubelet, and Cilium's VXLAN overlay and health checks (TCP 4240 and ICMP
  # echo; for ICMP, from is the type and to the code).
  node_ports = {
    kubelet       = { protocol = "tcp", from = 10250, to = 10250, description = "kubelet" }
    cilium-vxlan  = { protocol = "udp", from = 8472, to = 8472, description = "Cilium VXLAN" }
    cilium-health = { protocol = "tcp", from = 4240, to = 4240, description = "Cilium health" }
    cilium-icmp   = { protocol = "icmp", from = 8, to = 0, description = "Cilium health (ICMP echo)" }
  }

  peer_rules = merge(
    { for k, p in local.node_ports : "${k}-self" => merge(p, { source = aws_security_group.controller.id }) },
    { for pair in setproduct(keys(local.node_ports), range(length(var.peer_security_group_ids))) :
      "${pair[0]}-peer${pair[1]}" => merge(local.node_ports[pair[0]], { source = var.peer_security_group_ids[pair[1]] })
    },
  )
}

resource "aws_security_group" "controller" {
  name        = "${var.cluster_name}-controller"
  description = "kforge ${var.cluster_name}: control plane"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.cluster_name}-controller" })
}

resource "aws_vpc_security_group_ingress_rule" "api_vpc" {
  security_group_id = aws_security_group.controller.id
  description       = "Kubernetes API from the VPC"
  ip_protocol       = "tcp"
  from_port         = 6443
  to_port           = 6443
  cidr_ipv4         = var.vpc_cidr
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "api_admin" {
  for_each = toset(var.admin_cidrs)

  security_group_id = aws_security_group.controller.id
  description       = "Kubernetes API from an admin CIDR"
  ip_protocol       = "tcp"
  from_port         = 6443
  to_port           = 6443
  cidr_ipv4         = each.value
  tags              = var.tags
}

# etcd is reachable only from control-plane nodes.
resource "aws_vpc_security_group_ingress_rule" "etcd" {
  security_group_id            = aws_security_group.controller.id
  description                  = "etcd between control-plane nodes"
  ip_protocol                  = "tcp"
  from_port                    = 2379
  to_port                      = 2380
  referenced_security_group_id = aws_security_group.controller.id
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_ingress_rule" "nodes" {
  for_each = local.peer_rules

  security_group_id            = aws_security_group.controller.id
  description                  = "${each.value.description} from cluster nodes"
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = each.value.source
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

# Egress is what the control plane needs and no more (docs/SECURITY.md):
# - HTTPS anywhere: registries, package repositories, GitHub releases, AWS
#   APIs (their addresses are not fixed);
# - the cluster ports to the nodes (kubelet for logs, exec and metrics,
#   Cilium VXLAN, health and ICMP echo), mirroring the ingress rules above;
# - the API server and etcd between control-plane nodes;
# - NFS (2049) within the VPC, where the EFS mount targets are.
# DNS to the VPC resolver, NTP (169.254.169.123) and the metadata service
# are not filtered by security groups and need no rule.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.controller.id
  description       = "HTTPS: registries, packages, GitHub releases, AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "nodes" {
  for_each = local.peer_rules

  security_group_id            = aws_security_group.controller.id
  description                  = "${each.value.description} to cluster nodes"
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = each.value.source
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_egress_rule" "control_plane" {
  for_each = {
    api  = { from = 6443, to = 6443, description = "Kubernetes API between control-plane nodes" }
    etcd = { from = 2379, to = 2380, description = "etcd between control-plane nodes" }
  }

  security_group_id            = aws_security_group.controller.id
  description                  = each.value.description
  ip_protocol                  = "tcp"
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = aws_security_group.controller.id
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_egress_rule" "nfs" {
  security_group_id = aws_security_group.controller.id
  description       = "NFS to the EFS mount targets in the VPC"
  ip_protocol       = "tcp"
  from_port         = 2049
  to_port           = 2049
  cidr_ipv4         = var.vpc_cidr
  tags              = var.tags
}
