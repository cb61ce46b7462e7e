locals {
  # Ports the workers accept from each other and from peer node groups:
  # kubelet, and Cilium's VXLAN overlay and health checks (TCP 4240 and ICMP
  # echo; for ICMP, from is the type and to the code).
  cluster_ports = {
    kubelet       = { protocol = "tcp", from = 10250, to = 10250, description = "kubelet" }
    cilium-vxlan  = { protocol = "udp", from = 8472, to = 8472, description = "Cilium VXLAN" }
    cilium-health = { protocol = "tcp", from = 4240, to = 4240, description = "Cilium health" }
    cilium-icmp   = { protocol = "icmp", from = 8, to = 0, description = "Cilium health (ICMP echo)" }
  }

  peer_rules = merge(
    { for k, p in local.cluster_ports : "${k}-self" => merge(p, { source = aws_security_group.workers.id }) },
    { for pair in setproduct(keys(local.cluster_ports), range(length(var.peer_security_group_ids))) :
      "${pair[0]}-peer${pair[1]}" => merge(local.cluster_ports[pair[0]], { source = var.peer_security_group_ids[pair[1]] })
    },
  )
}

resource "aws_security_group" "workers" {
  name        = "${var.cluster_name}-workers"
  description = "kforge ${var.cluster_name}: workers"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.cluster_name}-workers" })
}

# Node ports only from the NLB (its security group also covers health checks).
resource "aws_vpc_security_group_ingress_rule" "node_ports" {
  for_each = { for p in var.node_ports : tostring(p) => p }

  security_group_id            = aws_security_group.workers.id
  description                  = "node port ${each.value} from the NLB"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = var.nlb_security_group_id
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_ingress_rule" "nodes" {
  for_each = local.peer_rules

  security_group_id            = aws_security_group.workers.id
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

# Egress is what a worker needs and no more (docs/SECURITY.md):
# - HTTPS anywhere: registries, package repositories, GitHub releases, Let's
#   Encrypt, AWS APIs (their addresses are not fixed);
# - the cluster ports to the other nodes (kubelet, Cilium VXLAN, health and
#   ICMP echo), mirroring the ingress rules above;
# - the API server (6443) on the control plane;
# - NFS (2049) within the VPC, where the EFS mount targets are.
# DNS to the VPC resolver, NTP (169.254.169.123) and the metadata service
# are not filtered by security groups and need no rule.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.workers.id
  description       = "HTTPS: registries, packages, GitHub releases, Let's Encrypt, AWS APIs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "nodes" {
  for_each = local.peer_rules

  security_group_id            = aws_security_group.workers.id
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

resource "aws_vpc_security_group_egress_rule" "api" {
  for_each = { for i, id in var.peer_security_group_ids : "peer${i}" => id }

  security_group_id            = aws_security_group.workers.id
  description                  = "Kubernetes API on the control plane"
  ip_protocol                  = "tcp"
  from_port                    = 6443
  to_port                      = 6443
  referenced_security_group_id = each.value
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_egress_rule" "nfs" {
  security_group_id = aws_security_group.workers.id
  description       = "NFS to the EFS mount targets in the VPC"
  ip_protocol       = "tcp"
  from_port         = 2049
  to_port           = 2049
  cidr_ipv4         = var.vpc_cidr
  tags              = var.tags
}
