# Public subnets hold the NLB (and the nodes when nat_gateway is off).
resource "aws_subnet" "public" {
  count = var.az_count

  vpc_id            = aws_vpc.this.id
  availability_zone = local.azs[count.index]
  cidr_block        = cidrsubnet(var.cidr, 4, count.index)
  # Nodes in public subnets need an address to reach the internet; their
  # security groups admit nothing beyond the NLB and the admin CIDRs.
  map_public_ip_on_launch = !var.nat_gateway
  tags                    = merge(var.tags, { Name = "${var.name}-public-${local.azs[count.index]}", "kforge.io/subnet" = "public" })
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.name}-public" })
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
  cidr_block        = cidrsubnet(var.cidr, 4, count.index + 8)
  tags              = merge(var.tags, { Name = "${var.name}-private-${local.azs[count.index]}", "kforge.io/subnet" = "private" })
}
