# The workers admit their node ports only from this group, so nothing but
# the NLB reaches them there.
resource "aws_security_group" "nlb" {
  name        = "${var.cluster_name}-nlb"
  description = "kforge ${var.cluster_name}: NLB, 80 and 443 from clients, node ports to the VPC"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.cluster_name}-nlb" })
}

resource "aws_vpc_security_group_ingress_rule" "clients" {
  for_each = { for pair in setproduct(keys(local.routes), var.ingress_cidrs) : "${pair[0]}-${pair[1]}" => { route = pair[0], cidr = pair[1] } }

  security_group_id = aws_security_group.nlb.id
  description       = "${each.value.route} from clients"
  ip_protocol       = "tcp"
  from_port         = local.routes[each.value.route].port
  to_port           = local.routes[each.value.route].port
  cidr_ipv4         = each.value.cidr
  tags              = var.tags
}

# ICMP type 3 code 4 (fragmentation needed) from the clients, so path MTU
# discovery works for them. For ICMP, from_port is the type, to_port the code.
resource "aws_vpc_security_group_ingress_rule" "path_mtu" {
  for_each = toset(var.ingress_cidrs)

  security_group_id = aws_security_group.nlb.id
  description       = "ICMP fragmentation needed from clients (path MTU discovery)"
  ip_protocol       = "icmp"
  from_port         = 3
  to_port           = 4
  cidr_ipv4         = each.value
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "node_ports" {
  for_each = local.routes

  security_group_id = aws_security_group.nlb.id
  description       = "${each.key} node port (traffic and health checks)"
  ip_protocol       = "tcp"
  from_port         = each.value.node_port
  to_port           = each.value.node_port
  cidr_ipv4         = var.vpc_cidr
  tags              = var.tags
}
