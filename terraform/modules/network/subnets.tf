# Public subnets hold the NLB (and the nodes when nat_gateway is off).
# Trivy's AWS-0164 (public IPs on launch) is accepted only where this
# attribute is true, which is exactly nat_gateway = false (dev, staging,
# local: no NAT gateway cost); the nodes' security groups then admit
# nothing beyond the NLB's node ports and the admin CIDRs. With
# nat_gateway = true the attribute is false and the check applies in full;
# scripts/security-scan also requires prod to raise no AWS-0164.
#trivy:ignore:AWS-0164[map_public_ip_on_launch=true]
resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index)
  # Nodes in public subnets need an address to reach the internet; their
  # security groups admit nothing beyond the NLB and the admin CIDRs.
  map_public_ip_on_launch = !var.nat_gateway
  tags                    = merge(var.tags, { Name = "${var.cluster_name}-public-${local.azs[count.index]}", "kforge.io/subnet" = "public" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.cluster_name}-public" })
}

resource "aws_route" "public_internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.this.id
}

resource "aws_route_table_association" "public" {
  count = var.az_count

  subnet_id      = aws_subnet.public[count.index].id
  route_table_id = aws_route_table.public.id
}

# Private subnets exist only with nat_gateway; they start at block 8 so
# public and private ranges never collide for up to 6 zones.
resource "aws_subnet" "private" {
  count = var.nat_gateway ? var.az_count : 0

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.vpc_cidr, 4, count.index + 8)
  tags              = merge(var.tags, { Name = "${var.cluster_name}-private-${local.azs[count.index]}", "kforge.io/subnet" = "private" })
}
