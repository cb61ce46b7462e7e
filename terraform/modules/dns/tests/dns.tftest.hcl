# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  override_data {
    target = data.aws_route53_zone.existing
    values = { name_servers = ["ns-1.example.net", "ns-2.example.net"] }
  }
}

variables {
  domain           = "dev.example.com"
  nlb_dns_name     = "kforge-dev-ingress-123.elb.eu-west-1.amazonaws.com"
  nlb_zone_id      = "Z2IFOLAFXWLO4F"
  api_seed_address = "10.0.255.254"
  vpc_id           = "vpc-12345678"
}

run "new_zone" {
  command = apply

  assert {
    condition     = length(aws_route53_zone.this) == 1 && aws_route53_zone.this[0].name == "dev.example.com"
    error_message = "a zone for the domain"
  }
  assert {
    condition     = toset(keys(aws_route53_record.ingress)) == toset(["dev.example.com", "*.dev.example.com"])
    error_message = "apex and wildcard records"
  }
  assert {
    condition     = alltrue([for r in aws_route53_record.ingress : r.type == "A" && r.alias[0].name == var.nlb_dns_name && r.alias[0].zone_id == var.nlb_zone_id])
    error_message = "apex and wildcard alias the NLB"
  }
  assert {
    condition     = alltrue([for r in aws_route53_record.ingress : r.allow_overwrite])
    error_message = "in kforge's own zone (kept by down, perhaps), apex and wildcard are taken back if someone pointed them elsewhere"
  }
  assert {
    condition     = aws_route53_record.api.name == "api.dev.example.com" && aws_route53_record.api.records == toset(["10.0.255.254"])
    error_message = "api.<domain> seeded with the placeholder"
  }
  assert {
    condition     = aws_route53_record.api.zone_id == aws_route53_zone.api.zone_id && aws_route53_zone.api.name == "api.dev.example.com" && one(aws_route53_zone.api.vpc).vpc_id == "vpc-12345678"
    error_message = "api.<domain> lives in a private zone of that name attached to the VPC, not in the public zone"
  }
  assert {
    condition     = output.api_zone_id == aws_route53_zone.api.zone_id && output.zone_id != output.api_zone_id
    error_message = "the API zone is output apart from the public zone"
  }
  assert {
    condition     = one(aws_route53_record.apex_ns).name == "dev.example.com" && one(aws_route53_record.apex_ns).type == "NS" && one(aws_route53_record.apex_ns).ttl == 900 && one(aws_route53_record.apex_ns).allow_overwrite && one(aws_route53_record.apex_ns).records == toset(aws_route53_zone.this[0].name_servers)
    error_message = "the created zone's own NS set, Route 53's name servers, with a TTL of 15 minutes instead of two days, so resolvers leave a zone deleted and created again soon"
  }
}

run "emulated_api_zone_is_not_attached" {
  command = apply

  variables {
    api_zone_private = false
  }

  assert {
    condition     = length(aws_route53_zone.api.vpc) == 0 && aws_route53_record.api.zone_id == aws_route53_zone.api.zone_id
    error_message = "for an emulator the API zone is created without the VPC"
  }
}

run "existing_zone" {
  command = apply

  variables {
    zone_id = "Z0123456789ABC"
  }

  assert {
    condition     = length(aws_route53_zone.this) == 0 && output.zone_id == "Z0123456789ABC"
    error_message = "no zone is created when one is given"
  }
  assert {
    condition     = length(aws_route53_record.apex_ns) == 0
    error_message = "the NS set of a zone the environment brings is its owner's"
  }
  assert {
    condition     = alltrue([for r in aws_route53_record.ingress : !r.allow_overwrite])
    error_message = "in a zone the environment brings, an apex or wildcard record already there is not overwritten"
  }
  assert {
    condition     = output.name_servers == tolist(["ns-1.example.net", "ns-2.example.net"])
    error_message = "name servers of the given zone"
  }
}

# The longest domain the rule takes (240 characters) still fits Route 53's
# 256-character zone comments.
run "longest_domain_fits_zone_comments" {
  command = plan

  variables {
    domain = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddddddddddddddd.org"
  }

  assert {
    condition     = length(aws_route53_zone.this[0].comment) <= 256 && length(aws_route53_zone.api.comment) <= 256
    error_message = "a zone comment is longer than Route 53's 256 characters"
  }
}
