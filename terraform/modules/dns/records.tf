# The apex and every name under the domain go to the ingress NLB.
resource "aws_route53_record" "ingress" {
  for_each = toset([var.domain, "*.${var.domain}"])

  zone_id = local.zone_id
  name    = each.value
  type    = "A"
  # In the zone kforge made, these names are the cluster's: a zone kept by
  # `kforge down` may have had them pointed elsewhere meanwhile (a
  # maintenance page), and the next apply takes them back (UPSERT) instead
  # of failing half way with "already exists". In a zone the environment
  # brings (zone_id), a record already there is someone else's: the apply
  # stops rather than overwrite it.
  allow_overwrite = var.zone_id == ""

  alias {
    name                   = var.nlb_dns_name
    zone_id                = var.nlb_zone_id
    evaluate_target_health = false
  }
}

# api.<domain> names the control plane, for the nodes only: it lives in a
# private hosted zone of exactly that name attached to the VPC, so nodes
# resolve it through the VPC resolver whatever the public delegation is
# (before delegation, or after a down/up that made new name servers), and
# every other name under the domain still resolves publicly. Its address
# changes whenever the ASG replaces the node, so the node sets the record
# itself on boot; Terraform only creates it (with a placeholder) and then
# leaves its value alone.
resource "aws_route53_zone" "api" {
  name = "api.${var.domain}"
  # Route 53 takes 256 characters; the zone name already says the domain.
  comment = "kforge: the cluster API, private to the cluster VPC"
  # Only the record below lives here; the node rewrites its value.
  force_destroy = true
  tags          = var.tags

  # Without the VPC the zone would be public; only for an emulator that
  # cannot create private zones (see var.api_zone_private).
  dynamic "vpc" {
    for_each = var.api_zone_private ? [var.vpc_id] : []

    content {
      vpc_id = vpc.value
    }
  }
}

resource "aws_route53_record" "api" {
  zone_id = aws_route53_zone.api.zone_id
  name    = "api.${var.domain}"
  type    = "A"
  ttl     = 60
  records = [var.api_seed_address]

  lifecycle {
    ignore_changes = [records]
  }
}
