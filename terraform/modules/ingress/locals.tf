locals {
  # Listener port => node port, keyed by the names used in target_group_arns.
  routes = {
    http  = { port = 80, node_port = var.http_node_port }
    https = { port = 443, node_port = var.https_node_port }
  }
}
