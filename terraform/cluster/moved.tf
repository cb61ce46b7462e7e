# The control-plane and workers modules became one node-group module
# (instances module.control_plane and module.workers). These moves carry an
# existing state over without replacing anything: resource names and keys
# changed, the AWS objects did not.

moved {
  from = module.control_plane.aws_security_group.controller
  to   = module.control_plane.aws_security_group.this
}

moved {
  from = module.control_plane.aws_launch_template.controller
  to   = module.control_plane.aws_launch_template.this["controller"]
}

moved {
  from = module.control_plane.aws_autoscaling_group.controller
  to   = module.control_plane.aws_autoscaling_group.this["controller"]
}

moved {
  from = module.control_plane.aws_vpc_security_group_ingress_rule.api_vpc
  to   = module.control_plane.aws_vpc_security_group_ingress_rule.api_vpc[0]
}

moved {
  from = module.control_plane.aws_vpc_security_group_ingress_rule.etcd
  to   = module.control_plane.aws_vpc_security_group_ingress_rule.etcd[0]
}

moved {
  from = module.workers.aws_security_group.workers
  to   = module.workers.aws_security_group.this
}

moved {
  from = module.workers.aws_launch_template.pool
  to   = module.workers.aws_launch_template.this
}

moved {
  from = module.workers.aws_autoscaling_group.pool
  to   = module.workers.aws_autoscaling_group.this
}

moved {
  from = module.workers.aws_vpc_security_group_egress_rule.api
  to   = module.workers.aws_vpc_security_group_egress_rule.control_plane
}

# The node events queue existed only with a Spot pool (count = 1); every
# cluster has it now, without a count.
moved {
  from = module.interruption[0]
  to   = module.interruption
}
