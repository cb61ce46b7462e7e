locals {
  controller = var.role == "controller"
  worker     = var.role == "worker"

  # Tags every instance and volume of a group gets: the caller's, Name, the
  # role, and for workers the pool (the node agent and the drain handler
  # read kforge.io/pool).
  group_tags = { for name, _ in var.groups : name => merge(
    var.tags,
    { Name = "${var.cluster_name}-${name}", "kforge.io/role" = var.role },
    local.worker ? { "kforge.io/pool" = name } : {},
  ) }

  # Explicitly disabled, so an account-level IMDS default cannot turn it on:
  # with tags in the metadata service EC2 refuses to launch an instance whose
  # tag keys contain "/" (kforge.io/cluster does), and nothing reads them
  # there. The precondition keeps that rule if it is ever switched on.
  instance_metadata_tags = "disabled"
  imds_tag_key_pattern   = "^[0-9a-zA-Z\\-_+=,.@:]{1,255}$"
}

resource "aws_launch_template" "this" {
  for_each = var.groups

  name                   = "${var.cluster_name}-${each.key}"
  description            = local.controller ? "kforge ${var.cluster_name}: control-plane node" : "kforge ${var.cluster_name}: worker pool ${each.key}"
  image_id               = var.ami_ids[each.key]
  instance_type          = each.value.instance_types[0]
  user_data              = base64encode(var.user_data[each.key])
  vpc_security_group_ids = [aws_security_group.this.id]
  update_default_version = true

  iam_instance_profile {
    name = var.instance_profile_name
  }

  # IMDSv2 only, hop limit 1: the token's reply cannot cross the extra hop
  # into a pod's network namespace, so no pod takes the node's role (the
  # worker's join material, the control plane's CA key). Cluster Autoscaler
  # and the EFS CSI controller, which need the role, run on the control
  # plane's host network; Cilium also denies pods 169.254.169.254
  # (docs/SECURITY.md). Tags stay out of the metadata service.
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
      volume_size           = each.value.volume_size
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
    tags          = local.group_tags[each.key]
  }

  tag_specifications {
    resource_type = "volume"
    tags          = local.group_tags[each.key]
  }

  tags = var.tags

  # moto copies the template's own tags into tag_specifications, which would
  # show as a change on every plan (and roll the nodes). Instance and volume
  # tags are therefore set when the template is created; later tag changes
  # reach new instances through the ASG's propagated tags.
  lifecycle {
    ignore_changes = [tag_specifications]

    precondition {
      condition     = local.instance_metadata_tags == "disabled" || alltrue([for k in keys(local.group_tags[each.key]) : can(regex(local.imds_tag_key_pattern, k))])
      error_message = "instance_metadata_tags is enabled but an instance tag key does not match [0-9a-zA-Z-_+=,.@:]{1,255}; EC2 would refuse every launch."
    }
  }
}
