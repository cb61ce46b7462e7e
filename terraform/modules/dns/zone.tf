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

# Route 53 gives a new zone's own NS set a TTL of 172,800 s, and resolvers
# keep the zone's own answer over the parent's referral (RFC 2181 5.4.1).
# A zone created again (down, then up) has new name servers: a two-day TTL
# would keep resolvers, Let's Encrypt's among them, asking the deleted
# zone's for two days. The set is Route 53's own (allow_overwrite: it
# exists from the zone's creation); destroying it is a no-op on AWS, which
# refuses to delete a zone's apex NS and deletes it with the zone.
resource "aws_route53_record" "apex_ns" {
  count = var.zone_id == "" ? 1 : 0

  zone_id         = aws_route53_zone.this[0].zone_id
  name            = var.domain
  type            = "NS"
  ttl             = var.ns_ttl
  records         = aws_route53_zone.this[0].name_servers
  allow_overwrite = true
}
