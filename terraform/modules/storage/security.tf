resource "aws_security_group" "efs" {
  name        = "${var.cluster_name}-efs"
  description = "kforge ${var.cluster_name}: EFS mount targets, NFS from cluster nodes"
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = "${var.cluster_name}-efs" })
}

resource "aws_vpc_security_group_ingress_rule" "nfs" {
  count = length(var.client_security_group_ids)

  security_group_id            = aws_security_group.efs.id
  description                  = "NFS from cluster nodes"
  ip_protocol                  = "tcp"
  from_port                    = 2049
  to_port                      = 2049
  referenced_security_group_id = var.client_security_group_ids[count.index]
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}
