resource "aws_lb" "this" {
  name               = "${var.cluster_name}-ingress"
  load_balancer_type = "network"
  internal           = false
  subnets            = var.subnet_ids
  security_groups    = [aws_security_group.nlb.id]
  # Off because the targets see the client's own address: a client (or the
  # NAT in front of it) that reaches two of the NLB's zone addresses from the
  # same address and port could be sent twice to one target, which then sees
  # the same connection twice, and one of the two fails.
  enable_cross_zone_load_balancing = false
  tags                             = var.tags
}

# TCP pass-through: TLS terminates at the ingress controller, which holds
# the Let's Encrypt certificates; the client address is preserved.
resource "aws_lb_target_group" "this" {
  for_each = local.routes

  name                 = "${var.cluster_name}-${each.key}"
  vpc_id               = var.vpc_id
  target_type          = "instance"
  protocol             = "TCP"
  port                 = each.value.node_port
  preserve_client_ip   = true
  deregistration_delay = var.deregistration_delay

  health_check {
    protocol            = "TCP"
    port                = "traffic-port"
    interval            = 10
    healthy_threshold   = 3
    unhealthy_threshold = 3
  }

  tags = var.tags
}

resource "aws_lb_listener" "this" {
  for_each = local.routes

  load_balancer_arn = aws_lb.this.arn
  protocol          = "TCP"
  port              = each.value.port

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.this[each.key].arn
  }

  tags = var.tags
}
