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

resource "aws_vpc_security_group_egress_rule" "all" {
  security_group_id = aws_security_group.workers.id
  description       = "Outbound: packages, AWS APIs, the control plane"
  ip_protocol       = "-1"
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}
