output "vpc_id" {
  description = "Id of the VPC."
  value       = aws_vpc.this.id
}

output "vpc_cidr" {
  description = "IPv4 CIDR of the VPC."
  value       = aws_vpc.this.cidr_block
}

output "availability_zones" {
  description = "Availability zones in use, in subnet order."
  value       = local.azs
}

output "public_subnet_ids" {
  description = "Public subnet ids, one per zone (the NLB lives here), given once the internet gateway routes them."
  value       = aws_subnet.public[*].id

  # An internet-facing NLB made before the VPC's gateway is attached fails
  # with InvalidSubnet ("has no internet gateway"), which the provider does
  # not retry; nothing in the subnets' ids says so.
  depends_on = [aws_internet_gateway.this, aws_route.public_internet, aws_route_table_association.public]
}

output "private_subnet_ids" {
  description = "Private subnet ids, one per zone; empty without nat_gateway."
  value       = aws_subnet.private[*].id
}

output "node_subnet_ids" {
  description = "Subnets for the nodes and EFS mount targets, one per zone: the private ones with nat_gateway, else the public ones; given once their routes (internet or NAT, and the S3 endpoint) are in place."
  value       = tolist(var.nat_gateway ? aws_subnet.private[*].id : aws_subnet.public[*].id)

  # A node booting in a subnet whose route table is not associated yet
  # uses the VPC's main table, with no way out and no S3 endpoint.
  depends_on = [
    aws_internet_gateway.this, aws_route.public_internet, aws_route_table_association.public,
    aws_nat_gateway.this, aws_route.private_nat, aws_route_table_association.private,
    aws_vpc_endpoint.s3,
  ]
}

output "s3_endpoint_id" {
  description = "Id of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.id
}
