# One customer-managed key per cluster encrypts the certs bucket, EFS and
# every node's EBS volumes. Rotation is on; the alias gives it a readable name.
resource "aws_kms_key" "cluster" {
  description             = "kforge cluster ${var.cluster_name}: certs bucket, EFS and EBS volumes"
  enable_key_rotation     = true
  deletion_window_in_days = var.deletion_window_in_days
  policy                  = jsonencode(local.key_policy)
  tags                    = var.tags
}

resource "aws_kms_alias" "cluster" {
  name          = "alias/${var.cluster_name}"
  target_key_id = aws_kms_key.cluster.key_id
}
