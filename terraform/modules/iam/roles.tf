locals {
  ec2_trust = jsonencode({
    Version = "2012-10-17"
    Statement = [{
      Sid       = "EC2AssumeRole"
      Effect    = "Allow"
      Principal = { Service = "ec2.amazonaws.com" }
      Action    = "sts:AssumeRole"
    }]
  })
}

resource "aws_iam_role" "controller" {
  name               = "${var.cluster_name}-controller"
  description        = "kforge ${var.cluster_name}: control-plane nodes"
  assume_role_policy = local.ec2_trust
  tags               = var.tags
}

resource "aws_iam_instance_profile" "controller" {
  name = "${var.cluster_name}-controller"
  role = aws_iam_role.controller.name
  tags = var.tags
}

resource "aws_iam_role" "worker" {
  name               = "${var.cluster_name}-worker"
  description        = "kforge ${var.cluster_name}: worker nodes"
  assume_role_policy = local.ec2_trust
  tags               = var.tags
}

resource "aws_iam_instance_profile" "worker" {
  name = "${var.cluster_name}-worker"
  role = aws_iam_role.worker.name
  tags = var.tags
}
