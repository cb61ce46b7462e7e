# Availability Zones only: an account opted into a Local or Wavelength Zone
# gets those from the same call, and their names (us-west-2-lax-1a) sort
# before the region's own, so the first subnet, NAT gateway and node would
# land in a zone with a reduced set of services and instance types.
# Excluded zones go by ID: names map to zones per account, and the zone an
# account cannot use for a load balancer or an instance type is a physical
# one. kforge's instance type and quota checks pick zones by the same rule
# (ClusterZones in internal/cluster/zones.go), from the zones available
# now: keep the two rules alike. This module then keeps its first pick.
data "aws_availability_zones" "available" {
  state            = "available"
  exclude_zone_ids = var.exclude_zone_ids

  filter {
    name   = "zone-type"
    values = ["availability-zone"]
  }
}

# The zones are picked once, by the first apply, and kept in the state: the
# data source above answers only the zones available now, so re-deriving
# them on every plan would, while one of the cluster's zones is impaired,
# move every subnet, NAT gateway and mount target after it to other zones
# (or fail every plan in a region with no more zones than az_count), just
# when the operator needs an up to scale the other zones. A new az_count or
# exclude_zone_ids picks them again, and the plan shows what moves.
resource "terraform_data" "zones" {
  input            = slice(data.aws_availability_zones.available.names, 0, min(var.az_count, length(data.aws_availability_zones.available.names)))
  triggers_replace = [var.az_count, var.exclude_zone_ids]

  lifecycle {
    ignore_changes = [input]

    postcondition {
      condition     = length(self.input) == var.az_count
      error_message = "az_count is ${var.az_count} but the region has ${length(data.aws_availability_zones.available.names)} available Availability Zones${length(var.exclude_zone_ids) > 0 ? " besides the excluded ${join(", ", var.exclude_zone_ids)}" : ""}; lower network.azCount or exclude fewer zones."
    }
  }
}

locals {
  # input, not output: known when planned, also by the plan that first
  # records it in an existing cluster, whose subnets then stay in place.
  azs = terraform_data.zones.input
}

resource "aws_vpc" "this" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = merge(var.tags, { Name = var.cluster_name })
}

resource "aws_internet_gateway" "this" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = var.cluster_name })
}
