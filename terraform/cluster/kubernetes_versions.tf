# Rendered from internal/config/versions.go by TestSupportedMinorsInTerraform;
# make golden rewrites it. Do not edit.

locals {
  # The Kubernetes minor releases kforge installs.
  supported_kubernetes_minors = ["1.35", "1.36"]
}
