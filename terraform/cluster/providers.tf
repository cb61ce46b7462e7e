locals {
  emulated = var.aws_endpoint_url != ""
}

provider "aws" {
  region = var.region

  # Tags on every resource that supports them; kforge finds leftovers by
  # kforge.io/cluster.
  default_tags {
    tags = local.tags
  }

  # Against an emulator: path-style S3, no credential, metadata or region
  # checks, and few retries, since an unimplemented API (StartInstanceRefresh
  # in moto) would otherwise be retried for more than ten minutes.
  s3_use_path_style           = local.emulated
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_region_validation      = local.emulated
  max_retries                 = local.emulated ? 2 : null

  # Every service this configuration talks to points at the emulator when
  # aws_endpoint_url is set.
  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []

    content {
      autoscaling = endpoints.value
      ec2         = endpoints.value
      efs         = endpoints.value
      events      = endpoints.value
      elbv2       = endpoints.value
      iam         = endpoints.value
      kms         = endpoints.value
      route53     = endpoints.value
      s3          = endpoints.value
      sqs         = endpoints.value
      ssm         = endpoints.value
      sts         = endpoints.value
    }
  }
}

# S3 objects and Route 53 hosted zones take at most 10 tags, where the
# caller may set 40: they are created through this provider, which has no
# default tags, and carry kforge's own (kforge_tags) only. It talks to S3
# and Route 53 alone; providers_test.go keeps its settings the default
# provider's.
provider "aws" {
  alias  = "kforge_tags"
  region = var.region

  s3_use_path_style           = local.emulated
  skip_credentials_validation = local.emulated
  skip_metadata_api_check     = local.emulated
  skip_region_validation      = local.emulated
  max_retries                 = local.emulated ? 2 : null

  dynamic "endpoints" {
    for_each = local.emulated ? [var.aws_endpoint_url] : []

    content {
      route53 = endpoints.value
      s3      = endpoints.value
      sts     = endpoints.value
    }
  }
}
