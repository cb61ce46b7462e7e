resource "aws_route53_zone" "this" {
  count = var.zone_id == "" ? 1 : 0

  name          = var.domain
  comment       = "kforge: ${var.domain}"
  force_destroy = var.force_destroy
  tags          = var.tags
}

data "aws_route53_zone" "existing" {
  count = var.zone_id == "" ? 0 : 1

  zone_id = var.zone_id
}

locals {
  zone_id      = var.zone_id == "" ? aws_route53_zone.this[0].zone_id : var.zone_id
  name_servers = var.zone_id == "" ? aws_route53_zone.this[0].name_servers : data.aws_route53_zone.existing[0].name_servers
}
