locals {
  # Explicitly disabled, so an account-level IMDS default cannot turn it on:
  # with tags in the metadata service EC2 refuses to launch an instance whose
  # tag keys contain "/" (kforge.io/cluster does), and nothing reads them
  # there. The precondition keeps that rule if it is ever switched on.
  instance_metadata_tags = "disabled"
  imds_tag_key_pattern   = "^[0-9a-zA-Z\\-_+=,.@:]{1,255}$"

  # Every tag the instance gets: the template's and the ASG's propagated ones.
  instance_tags = merge(var.tags, { Name = "${var.cluster_name}-controller", "kforge.io/role" = "controller" })
}

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

  # IMDSv2 only, hop limit 1: only the host and host-network pods reach the
  # metadata service. Cluster Autoscaler and the EFS CSI controller, which
  # need the role, run on the host network; pods in the pod network get no
  # token reply (and Cilium denies them 169.254.169.254; docs/SECURITY.md).
  # Tags stay out of the metadata service (see locals below).
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
    instance_metadata_tags      = local.instance_metadata_tags
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
    tags          = local.instance_tags
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

    precondition {
      condition     = local.instance_metadata_tags == "disabled" || alltrue([for k in keys(local.instance_tags) : can(regex(local.imds_tag_key_pattern, k))])
      error_message = "instance_metadata_tags is enabled but an instance tag key does not match [0-9a-zA-Z-_+=,.@:]{1,255}; EC2 would refuse every launch."
    }
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
    for_each = local.instance_tags

    content {
      key                 = tag.key
      value               = tag.value
      propagate_at_launch = true
    }
  }
}
