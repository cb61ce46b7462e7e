# The apex and every name under the domain go to the ingress NLB.
resource "aws_route53_record" "ingress" {
  for_each = toset([var.domain, "*.${var.domain}"])

  zone_id = local.zone_id
  name    = each.value
  type    = "A"

  alias {
    name                   = var.nlb_dns_name
    zone_id                = var.nlb_zone_id
    evaluate_target_health = false
  }
}

# api.<domain> names the control plane. Its address changes whenever the
# ASG replaces the node, so the node sets the record itself on boot; Terraform
# only creates it (with a placeholder) and then leaves its value alone.
resource "aws_route53_record" "api" {
  zone_id = local.zone_id
  name    = "api.${var.domain}"
  type    = "A"
  ttl     = 60
  records = [var.api_seed_address]

  lifecycle {
    ignore_changes = [records]
  }
}
