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
  description = "Public subnet ids, one per zone (the NLB lives here)."
  value       = aws_subnet.public[*].id
}

output "private_subnet_ids" {
  description = "Private subnet ids, one per zone; empty without nat_gateway."
  value       = aws_subnet.private[*].id
}

output "node_subnet_ids" {
  description = "Subnets for the nodes and EFS mount targets, one per zone: the private ones with nat_gateway, else the public ones."
  value       = tolist(var.nat_gateway ? aws_subnet.private[*].id : aws_subnet.public[*].id)
}

output "s3_endpoint_id" {
  description = "Id of the S3 gateway endpoint."
  value       = aws_vpc_endpoint.s3.id
}
