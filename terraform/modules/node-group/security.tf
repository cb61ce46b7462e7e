# One security group per role. Each module instance writes rules into its
# own group only; other groups appear as sources and destinations
# (peer_security_group_ids, nlb_security_group_id), never as targets.

locals {
  # Ports every node accepts from its own group and from the peer groups:
  # kubelet, and Cilium's VXLAN overlay and health checks (TCP 4240 and ICMP
  # echo; for ICMP, from is the type and to the code).
  peer_ports = {
    kubelet       = { protocol = "tcp", from = 10250, to = 10250, description = "kubelet" }
    cilium-vxlan  = { protocol = "udp", from = 8472, to = 8472, description = "Cilium VXLAN" }
    cilium-health = { protocol = "tcp", from = 4240, to = 4240, description = "Cilium health" }
    cilium-icmp   = { protocol = "icmp", from = 8, to = 0, description = "Cilium health (ICMP echo)" }
  }

  peer_rules = merge(
    { for k, p in local.peer_ports : "${k}-self" => merge(p, { source = aws_security_group.this.id }) },
    { for pair in setproduct(keys(local.peer_ports), range(length(var.peer_security_group_ids))) :
      "${pair[0]}-peer${pair[1]}" => merge(local.peer_ports[pair[0]], { source = var.peer_security_group_ids[pair[1]] })
    },
  )

  # The group's name is kept per role from before the roles shared a module
  # (a new name would replace the group and every rule). Descriptions hold
  # only what EC2 takes in them: letters, digits, spaces and ._-:/()#,@[]+=&;{}!$*
  # (no apostrophe); test/e2e/terraform's plan check holds every module to it.
  group = local.controller ? {
    name        = "${var.cluster_name}-controller"
    description = "kforge ${var.cluster_name}: control plane"
    https       = "HTTPS: registries, packages, GitHub releases, AWS APIs"
    } : {
    name        = "${var.cluster_name}-workers"
    description = "kforge ${var.cluster_name}: workers"
    https       = "HTTPS: registries, packages, GitHub releases, ACME (LetsEncrypt), AWS APIs"
  }

  # Egress to the control plane: the API and etcd between control-plane
  # nodes; the API from the workers to the control plane's group (their
  # peer group).
  control_plane_egress = local.controller ? {
    api  = { from = 6443, to = 6443, description = "Kubernetes API between control-plane nodes", target = aws_security_group.this.id }
    etcd = { from = 2379, to = 2380, description = "etcd between control-plane nodes", target = aws_security_group.this.id }
    } : { for i, id in var.peer_security_group_ids :
    "peer${i}" => { from = 6443, to = 6443, description = "Kubernetes API on the control plane", target = id }
  }
}

resource "aws_security_group" "this" {
  name        = local.group.name
  description = local.group.description
  vpc_id      = var.vpc_id
  tags        = merge(var.tags, { Name = local.group.name })
}

# Controller: the API from the VPC and from the admin CIDRs.
resource "aws_vpc_security_group_ingress_rule" "api_vpc" {
  count = local.controller ? 1 : 0

  security_group_id = aws_security_group.this.id
  description       = "Kubernetes API from the VPC"
  ip_protocol       = "tcp"
  from_port         = 6443
  to_port           = 6443
  cidr_ipv4         = var.vpc_cidr
  tags              = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "api_admin" {
  for_each = local.controller ? toset(var.admin_cidrs) : toset([])

  security_group_id = aws_security_group.this.id
  description       = "Kubernetes API from an admin CIDR"
  ip_protocol       = "tcp"
  from_port         = 6443
  to_port           = 6443
  cidr_ipv4         = each.value
  tags              = var.tags
}

# Controller: etcd is reachable only from control-plane nodes.
resource "aws_vpc_security_group_ingress_rule" "etcd" {
  count = local.controller ? 1 : 0

  security_group_id            = aws_security_group.this.id
  description                  = "etcd between control-plane nodes"
  ip_protocol                  = "tcp"
  from_port                    = 2379
  to_port                      = 2380
  referenced_security_group_id = aws_security_group.this.id
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

# Workers: node ports only from the NLB (its security group also covers
# health checks).
resource "aws_vpc_security_group_ingress_rule" "node_ports" {
  for_each = local.worker ? { for p in var.node_ports : tostring(p) => p } : {}

  security_group_id            = aws_security_group.this.id
  description                  = "node port ${each.value} from the NLB"
  ip_protocol                  = "tcp"
  from_port                    = each.value
  to_port                      = each.value
  referenced_security_group_id = var.nlb_security_group_id
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_ingress_rule" "nodes" {
  for_each = local.peer_rules

  security_group_id            = aws_security_group.this.id
  description                  = "${each.value.description} from cluster nodes"
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = each.value.source
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

# Egress is what a node needs and no more (docs/SECURITY.md):
# - HTTPS anywhere: registries, package repositories, GitHub releases, Let's
#   Encrypt (workers), AWS APIs (their addresses are not fixed);
# - on the workers, HTTP anywhere for cert-manager's self-check (below);
# - the peer ports to the other nodes (kubelet for logs, exec and metrics,
#   Cilium VXLAN, health and ICMP echo), mirroring the ingress rules above;
# - the API server (and etcd between control-plane nodes) on the control
#   plane;
# - NFS (2049) within the VPC, where the EFS mount targets are.
# DNS to the VPC resolver, NTP (169.254.169.123) and the metadata service
# are not filtered by security groups and need no rule.
resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.this.id
  description       = local.group.https
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

# Workers: HTTP anywhere, for cert-manager's HTTP-01 self-check. Before it
# asks Let's Encrypt to validate, cert-manager (a pod on a worker) fetches
# http://<host>/.well-known/acme-challenge/<token> itself, through the NLB's
# public addresses, which are not known when the group is made; without
# this rule the challenge waits forever and no certificate is issued.
resource "aws_vpc_security_group_egress_rule" "acme_http" {
  count = local.worker ? 1 : 0

  security_group_id = aws_security_group.this.id
  description       = "HTTP: ACME HTTP-01 self-check through the NLB"
  ip_protocol       = "tcp"
  from_port         = 80
  to_port           = 80
  cidr_ipv4         = "0.0.0.0/0"
  tags              = var.tags
}

resource "aws_vpc_security_group_egress_rule" "nodes" {
  for_each = local.peer_rules

  security_group_id            = aws_security_group.this.id
  description                  = "${each.value.description} to cluster nodes"
  ip_protocol                  = each.value.protocol
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = each.value.source
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_egress_rule" "control_plane" {
  for_each = local.control_plane_egress

  security_group_id            = aws_security_group.this.id
  description                  = each.value.description
  ip_protocol                  = "tcp"
  from_port                    = each.value.from
  to_port                      = each.value.to
  referenced_security_group_id = each.value.target
  tags                         = var.tags

  # moto drops descriptions of rules that reference a security group.
  lifecycle {
    ignore_changes = [description]
  }
}

resource "aws_vpc_security_group_egress_rule" "nfs" {
  security_group_id = aws_security_group.this.id
  description       = "NFS to the EFS mount targets in the VPC"
  ip_protocol       = "tcp"
  from_port         = 2049
  to_port           = 2049
  cidr_ipv4         = var.vpc_cidr
  tags              = var.tags
}

# Workers: the environment's own outbound rules (network.workerEgress), for
# workloads that reach more than HTTPS; keyed by what EC2 keeps unique.
resource "aws_vpc_security_group_egress_rule" "extra" {
  for_each = local.worker ? { for r in var.extra_egress : "${r.protocol}/${r.from_port}-${r.to_port}/${r.cidr}" => r } : {}

  security_group_id = aws_security_group.this.id
  # EC2 reads an empty description back as none: null keeps plans quiet.
  description = each.value.description != "" ? each.value.description : null
  ip_protocol = each.value.protocol
  from_port   = each.value.from_port
  to_port     = each.value.to_port
  cidr_ipv4   = each.value.cidr
  tags        = var.tags
}
