# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  cluster_name = "kforge-test"
  vpc_cidr     = "10.10.0.0/16"
}

run "public_subnets_by_default" {
  command = apply

  assert {
    condition     = length(aws_subnet.public) == 2 && length(aws_subnet.private) == 0 && length(aws_nat_gateway.this) == 0
    error_message = "default: two public subnets, no private subnet, no NAT gateway"
  }
  assert {
    condition     = aws_subnet.public[0].cidr_block == "10.10.0.0/20" && aws_subnet.public[1].cidr_block == "10.10.16.0/20"
    error_message = "public subnets are the first /20 blocks of the VPC"
  }
  assert {
    condition     = alltrue(aws_subnet.public[*].map_public_ip_on_launch)
    error_message = "without NAT the nodes live in the public subnets and need addresses"
  }
  assert {
    condition     = output.node_subnet_ids == tolist(aws_subnet.public[*].id)
    error_message = "without NAT the nodes use the public subnets"
  }
  assert {
    condition     = aws_vpc_endpoint.s3.service_name == "com.amazonaws.eu-west-1.s3" && aws_vpc_endpoint.s3.vpc_endpoint_type == "Gateway"
    error_message = "an S3 gateway endpoint serves the VPC"
  }
}

run "private_subnets_with_nat" {
  command = apply

  variables {
    az_count    = 3
    nat_gateway = true
  }

  assert {
    condition     = length(aws_subnet.private) == 3 && length(aws_nat_gateway.this) == 3 && length(aws_route.private_nat) == 3
    error_message = "with NAT: a private subnet, a NAT gateway and a default route per zone"
  }
  assert {
    condition     = aws_subnet.private[0].cidr_block == "10.10.128.0/20"
    error_message = "private subnets start at block 8"
  }
  assert {
    condition     = !anytrue(aws_subnet.public[*].map_public_ip_on_launch)
    error_message = "with NAT no instance gets a public address"
  }
  assert {
    condition     = output.node_subnet_ids == tolist(aws_subnet.private[*].id)
    error_message = "with NAT the nodes use the private subnets"
  }
}

# The zones of the applied state are kept when one of them is no longer
# available (impaired during an outage): nothing moves, no plan fails.
run "zones_kept_while_one_is_impaired" {
  command = plan

  variables {
    az_count    = 3
    nat_gateway = true
  }

  override_data {
    target = data.aws_availability_zones.available
    values = {
      names = ["eu-west-1b", "eu-west-1c"]
    }
  }

  assert {
    condition     = output.availability_zones == tolist(["eu-west-1a", "eu-west-1b", "eu-west-1c"]) && aws_subnet.private[0].availability_zone == "eu-west-1a"
    error_message = "an impaired zone of the cluster stays its zone, first subnet included"
  }
}

run "zones_kept_when_the_region_lists_others_first" {
  command = plan

  variables {
    az_count    = 3
    nat_gateway = true
  }

  override_data {
    target = data.aws_availability_zones.available
    values = {
      names = ["eu-west-1b", "eu-west-1c", "eu-west-1d"]
    }
  }

  assert {
    condition     = output.availability_zones == tolist(["eu-west-1a", "eu-west-1b", "eu-west-1c"]) && aws_subnet.public[2].availability_zone == "eu-west-1c"
    error_message = "the zones stay the recorded ones, in their order"
  }
}

run "one_zone" {
  command = plan

  variables {
    az_count = 1
  }

  assert {
    condition     = length(aws_subnet.public) == 1 && length(output.node_subnet_ids) == 1
    error_message = "one zone: one public subnet, which the nodes use"
  }
}

run "availability_zones_only" {
  command = plan

  assert {
    condition     = anytrue([for f in data.aws_availability_zones.available.filter : f.name == "zone-type" && toset(f.values) == toset(["availability-zone"])])
    error_message = "the zones are read with zone-type = availability-zone, so no Local or Wavelength Zone is picked"
  }
}

run "rejects_more_zones_than_the_region_has" {
  command = plan

  variables {
    az_count = 4
  }

  expect_failures = [terraform_data.zones]
}

run "rejects_no_zone" {
  command = plan

  variables {
    az_count = 0
  }

  expect_failures = [var.az_count]
}

run "flow_logs_to_s3" {
  command = apply

  variables {
    flow_logs             = true
    flow_logs_destination = "arn:aws:s3:::kforge-test-logs-123456789012-eu-west-1"
  }

  assert {
    condition     = aws_flow_log.vpc[0].traffic_type == "ALL" && aws_flow_log.vpc[0].log_destination_type == "s3" && aws_flow_log.vpc[0].log_destination == "arn:aws:s3:::kforge-test-logs-123456789012-eu-west-1/vpc-flow-logs/" && aws_flow_log.vpc[0].vpc_id == aws_vpc.this.id
    error_message = "all traffic of the VPC logged to the log bucket under vpc-flow-logs/"
  }
}

run "no_flow_logs_by_default" {
  command = plan

  assert {
    condition     = length(aws_flow_log.vpc) == 0
    error_message = "flow logs only when asked for"
  }
}

run "rejects_flow_logs_without_destination" {
  command = plan

  variables {
    flow_logs = true
  }

  expect_failures = [aws_flow_log.vpc]
}
