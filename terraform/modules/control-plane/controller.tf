resource "aws_launch_template" "controller" {
  name                   = "${var.cluster_name}-controller"
  description            = "kforge ${var.cluster_name}: control-plane node"
  image_id               = var.ami_id
  instance_type          = var.instance_type
  user_data              = base64encode(var.user_data)
  vpc_security_group_ids = [aws_security_group.controller.id]
  update_default_version = true

  iam_instance_profile {
    name = var.instance_profile_name
  }

  # IMDSv2 only; hop limit 2 lets pods on the host network reach it through
  # one extra hop; instance tags are readable from the metadata service.
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 2
    instance_metadata_tags      = "enabled"
  }

  block_device_mappings {
    device_name = "/dev/xvda"

    ebs {
      volume_type           = "gp3"
      volume_size           = var.volume_size
      encrypted             = true
      kms_key_id            = var.kms_key_arn
      delete_on_termination = true
    }
  }

  monitoring {
    enabled = var.detailed_monitoring
  }

  tag_specifications {
    resource_type = "instance"
    tags          = merge(var.tags, { Name = "${var.cluster_name}-controller", "kforge.io/role" = "controller" })
  }

  tag_specifications {
    resource_type = "volume"
    tags          = merge(var.tags, { Name = "${var.cluster_name}-controller", "kforge.io/role" = "controller" })
  }

  tags = var.tags

  # moto copies the template's own tags into tag_specifications, which would
  # show as a change on every plan (and roll the workers). Instance and volume
  # tags are therefore set when the template is created; later tag changes
  # reach new instances through the ASG's propagated tags.
  lifecycle {
    ignore_changes = [tag_specifications]
  }
}

# An ASG of exactly one: a dead control-plane node is replaced, and the
# replacement restores PKI and etcd from the certs bucket. Launch template
# changes apply at the next replacement (no automatic instance refresh:
# replacing the only control-plane node is a decision for the operator).
resource "aws_autoscaling_group" "controller" {
  name                      = "${var.cluster_name}-controller"
  min_size                  = 1
  max_size                  = 1
  desired_capacity          = 1
  vpc_zone_identifier       = var.subnet_ids
  health_check_type         = "EC2"
  health_check_grace_period = 300

  launch_template {
    id      = aws_launch_template.controller.id
    version = aws_launch_template.controller.latest_version
  }

  dynamic "tag" {
    for_each = merge(var.tags, { Name = "${var.cluster_name}-controller", "kforge.io/role" = "controller" })

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}
