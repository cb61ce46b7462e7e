data "aws_region" "current" {}

# S3 traffic from the nodes (agent download, backups) stays on the AWS
# network and costs nothing, with or without NAT.
resource "aws_vpc_endpoint" "s3" {
  vpc_id            = aws_vpc.this.id
  service_name      = "com.amazonaws.${data.aws_region.current.name}.s3"
  vpc_endpoint_type = "Gateway"
  route_table_ids   = concat([aws_route_table.public.id], aws_route_table.private[*].id)
  tags              = merge(var.tags, { Name = "${var.cluster_name}-s3" })
}
