# The input rules this module shares with the root module and kforge's
# config package are tested case by case by internal/config/tfrules_test.go
# (`make tf-test` runs it after these files).

mock_provider "aws" {
  source = "../../tests/mocks/aws"
}

variables {
  cluster_name = "kforge-twenty-chars1"
  vpc_id       = "vpc-12345678"
  vpc_cidr     = "10.0.0.0/16"
  subnet_ids   = ["subnet-1", "subnet-2"]
}

run "listeners_forward_to_node_ports" {
  command = apply

  assert {
    condition     = aws_lb_listener.this["http"].port == 80 && aws_lb_listener.this["https"].port == 443
    error_message = "listeners on 80 and 443"
  }
  assert {
    condition     = alltrue([for l in aws_lb_listener.this : l.protocol == "TCP"])
    error_message = "TCP pass-through listeners"
  }
  assert {
    condition     = aws_lb_target_group.this["http"].port == 30080 && aws_lb_target_group.this["https"].port == 30443
    error_message = "target groups on node ports 30080 and 30443 by default"
  }
  assert {
    condition     = alltrue([for tg in aws_lb_target_group.this : tg.preserve_client_ip == "true" && tg.health_check[0].port == "traffic-port" && tg.health_check[0].protocol == "TCP"])
    error_message = "client IP preserved, health checks on the node port"
  }
  assert {
    condition     = aws_lb.this.load_balancer_type == "network" && alltrue([for tg in aws_lb_target_group.this : tg.preserve_client_ip != "true" || (!aws_lb.this.enable_cross_zone_load_balancing && tg.load_balancing_cross_zone_enabled != "true")])
    error_message = "a network load balancer with cross-zone off (on the NLB and every target group) while client IP is preserved: otherwise two connections from one client address and port can reach one target as the same connection"
  }
  assert {
    condition     = length(aws_lb.this.name) <= 32 && alltrue([for tg in aws_lb_target_group.this : length(tg.name) <= 32])
    error_message = "NLB and target group names fit AWS's 32 characters"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_egress_rule.node_ports : r.cidr_ipv4 == "10.0.0.0/16"])
    error_message = "the NLB only sends to the VPC"
  }
  assert {
    condition     = [for r in aws_vpc_security_group_ingress_rule.path_mtu : r.cidr_ipv4] == ["0.0.0.0/0"] && alltrue([for r in aws_vpc_security_group_ingress_rule.path_mtu : r.ip_protocol == "icmp" && r.from_port == 3 && r.to_port == 4])
    error_message = "ICMP type 3 code 4 (fragmentation needed) admitted from the default ingress CIDR, for path MTU discovery"
  }
}

run "path_mtu_per_ingress_cidr" {
  command = apply

  variables {
    ingress_cidrs = ["192.0.2.0/24", "198.51.100.0/24"]
  }

  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.path_mtu) == length(var.ingress_cidrs) && toset([for r in aws_vpc_security_group_ingress_rule.path_mtu : r.cidr_ipv4]) == toset(var.ingress_cidrs)
    error_message = "one ICMP fragmentation-needed rule per ingress CIDR"
  }
  assert {
    condition     = alltrue([for r in aws_vpc_security_group_ingress_rule.path_mtu : r.ip_protocol == "icmp" && r.from_port == 3 && r.to_port == 4 && r.security_group_id == aws_security_group.nlb.id])
    error_message = "ICMP type 3 (from_port) code 4 (to_port) on the NLB's group"
  }
  assert {
    condition     = length(aws_vpc_security_group_ingress_rule.clients) == 2 * length(var.ingress_cidrs)
    error_message = "80 and 443 admitted from each ingress CIDR"
  }
}

run "custom_node_ports" {
  command = apply

  variables {
    http_node_port  = 31080
    https_node_port = 31443
  }

  assert {
    condition     = aws_lb_target_group.this["http"].port == 31080 && aws_lb_target_group.this["https"].port == 31443
    error_message = "node ports are inputs"
  }
}

run "rejects_deregistration_delay_above_the_elb_limit" {
  command = plan

  variables {
    deregistration_delay = 3601
  }

  expect_failures = [var.deregistration_delay]
}

run "rejects_ingress_cidr_with_host_bits" {
  command = plan

  variables {
    ingress_cidrs = ["203.0.113.7/24"]
  }

  expect_failures = [var.ingress_cidrs]
}

run "rejects_ipv6_ingress_cidr" {
  command = plan

  variables {
    ingress_cidrs = ["2001:db8::/32"]
  }

  expect_failures = [var.ingress_cidrs]
}
