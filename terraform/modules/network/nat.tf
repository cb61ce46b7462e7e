# One NAT gateway per zone, so losing a zone does not cut the others off.
resource "aws_eip" "nat" {
  count = var.nat_gateway ? var.az_count : 0

  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.cluster_name}-nat-${local.azs[count.index]}" })
}

resource "aws_nat_gateway" "this" {
  count = var.nat_gateway ? var.az_count : 0

  allocation_id = aws_eip.nat[count.index].id
  subnet_id     = aws_subnet.public[count.index].id
  tags          = merge(var.tags, { Name = "${var.cluster_name}-${local.azs[count.index]}" })

  depends_on = [aws_internet_gateway.this]
}

resource "aws_route_table" "private" {
  count = var.nat_gateway ? var.az_count : 0

  vpc_id = aws_vpc.this.id
  tags   = merge(var.tags, { Name = "${var.cluster_name}-private-${local.azs[count.index]}" })
}

resource "aws_route" "private_nat" {
  count = var.nat_gateway ? var.az_count : 0

  route_table_id         = aws_route_table.private[count.index].id
  destination_cidr_block = "0.0.0.0/0"
  nat_gateway_id         = aws_nat_gateway.this[count.index].id
}

resource "aws_route_table_association" "private" {
  count = var.nat_gateway ? var.az_count : 0

  subnet_id      = aws_subnet.private[count.index].id
  route_table_id = aws_route_table.private[count.index].id
}
