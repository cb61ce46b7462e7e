locals {
  # Cluster Autoscaler (workers only): auto-discovery tags, and node-template
  # tags so it can scale a pool up from zero knowing its labels and taints.
  # They describe the group, so they are not copied onto the instances.
  autoscaler_tags = { for name, g in var.groups : name => local.worker ? merge(
    {
      "k8s.io/cluster-autoscaler/enabled"             = "true"
      "k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned"
    },
    { for k, v in g.labels : "k8s.io/cluster-autoscaler/node-template/label/${k}" => v },
    { for t in g.taints : "k8s.io/cluster-autoscaler/node-template/taint/${split("=", split(":", t)[0])[0]}" => "${try(split("=", split(":", t)[0])[1], "")}:${split(":", t)[1]}" },
    {
      # The agent labels every worker with its pool; a pod selecting it
      # must be able to scale its pool up from zero.
      "k8s.io/cluster-autoscaler/node-template/label/kforge.io/pool" = name
      # Without it a template node has no ephemeral storage, and a pod
      # requesting any never scales a pool up from zero. 80% of the root
      # volume: the OS, images and the kubelet's 10% eviction threshold
      # hold the rest.
      "k8s.io/cluster-autoscaler/node-template/resources/ephemeral-storage" = "${floor(g.volume_size * 0.8)}Gi"
    },
  ) : {} }

  # Every tag of a group: its own tags, copied onto the instances it
  # launches, and the autoscaler's, which stay on the group.
  asg_tags = { for name, _ in var.groups : name => concat(
    [for k, v in local.group_tags[name] : { key = k, value = v, propagate_at_launch = true }],
    [for k, v in local.autoscaler_tags[name] : { key = k, value = v, propagate_at_launch = false }],
  ) }
}

# A controller group is an ASG of exactly one: a dead control-plane node is
# replaced, and the replacement restores PKI and etcd from the certs bucket.
# A worker group is a pool Cluster Autoscaler sizes.
resource "aws_autoscaling_group" "this" {
  for_each = var.groups

  name                = "${var.cluster_name}-${each.key}"
  min_size            = each.value.min_size
  max_size            = each.value.max_size
  desired_capacity    = each.value.desired_size
  vpc_zone_identifier = var.subnet_ids
  # Only worker pools running the ingress controller: a pool without it
  # would sit in the target groups with every target unhealthy.
  target_group_arns         = local.worker && each.value.ingress ? var.target_group_arns : []
  health_check_type         = "EC2"
  health_check_grace_period = 300
  wait_for_capacity_timeout = var.wait_for_capacity_timeout
  # A failed launch Auto Scaling retries by itself (no Spot capacity in a
  # zone, a type missing there) must not fail the apply and taint the
  # group; the wait still needs the desired instances InService.
  ignore_failed_scaling_activities = true
  # Cluster Autoscaler removes the emptiest node, in whatever zone, with a
  # decrementing termination, and so does kforge roll after its surge. With
  # AZRebalance on, Auto Scaling then evens the zones out by launching a
  # node and terminating a loaded one, evicting its pods a second time.
  # Launches still go to the zone with the fewest instances.
  suspended_processes = local.worker ? ["AZRebalance"] : []

  # A node boots with no way out until its group's egress rules exist: the
  # provider removes a new group's allow-all egress.
  depends_on = [
    aws_vpc_security_group_egress_rule.https, aws_vpc_security_group_egress_rule.acme_http,
    aws_vpc_security_group_egress_rule.nodes, aws_vpc_security_group_egress_rule.control_plane,
    aws_vpc_security_group_egress_rule.nfs, aws_vpc_security_group_egress_rule.extra,
  ]

  # Spot pools: when a rebalance recommendation says an instance is at
  # elevated risk, launch its replacement first, then terminate it (through
  # the termination lifecycle hook, so the node is drained).
  capacity_rebalance = each.value.capacity == "spot"

  # One on-demand instance type: the launch template as is. Several types,
  # or Spot: a mixed-instances policy over the group's types.
  dynamic "launch_template" {
    for_each = length(each.value.instance_types) == 1 && each.value.capacity == "on-demand" ? [1] : []

    content {
      id      = aws_launch_template.this[each.key].id
      version = aws_launch_template.this[each.key].latest_version
    }
  }

  dynamic "mixed_instances_policy" {
    for_each = length(each.value.instance_types) > 1 || each.value.capacity == "spot" ? [1] : []

    content {
      instances_distribution {
        # On-demand: the types in the listed order (the first is preferred).
        on_demand_allocation_strategy = "prioritized"
        # A spot pool keeps on_demand_base instances on-demand and runs the
        # rest on Spot; an on-demand pool is on-demand throughout.
        on_demand_base_capacity                  = each.value.capacity == "spot" ? each.value.on_demand_base : 0
        on_demand_percentage_above_base_capacity = each.value.capacity == "spot" ? 0 : 100
        # The Spot pools least likely to be interrupted, among the cheapest.
        spot_allocation_strategy = "price-capacity-optimized"
      }

      launch_template {
        launch_template_specification {
          launch_template_id = aws_launch_template.this[each.key].id
          version            = aws_launch_template.this[each.key].latest_version
        }

        dynamic "override" {
          for_each = each.value.instance_types

          content {
            instance_type = override.value
          }
        }
      }
    }
  }

  # No instance_refresh block, on purpose: a launch template change (a new
  # agent build, another AMI, an instance type) reaches only instances
  # launched after it. Running nodes are replaced when the operator rolls the
  # group (docs/OPERATIONS.md), never as a side effect of an apply; replacing
  # the only control-plane node is always the operator's decision.

  dynamic "tag" {
    for_each = local.asg_tags[each.key]

    content {
      key                 = tag.value.key
      value               = tag.value.value
      propagate_at_launch = tag.value.propagate_at_launch
    }
  }

  # Cluster Autoscaler owns a pool's size after creation (a controller
  # group's min = max = 1 leaves it nothing to change).
  lifecycle {
    ignore_changes = [desired_capacity]
  }
}
