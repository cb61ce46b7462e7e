data "aws_partition" "current" {}

data "aws_region" "current" {}

data "aws_caller_identity" "current" {}

locals {
  partition  = data.aws_partition.current.partition
  region     = data.aws_region.current.name
  account_id = data.aws_caller_identity.current.account_id

  # The tag the EFS CSI driver puts on this cluster's access points
  # (internal/addons passes it with --tags).
  cluster_tag = "kforge.io/cluster"

  # The cluster's Auto Scaling groups: every group is named <cluster>-<pool>.
  own_groups_arn = "arn:${local.partition}:autoscaling:${local.region}:${local.account_id}:autoScalingGroup:*:autoScalingGroupName/${var.cluster_name}-*"

  # Only the cluster's worker groups carry the Cluster Autoscaler's
  # ownership tag, so this condition on own_groups_arn leaves the control
  # plane's group out of reach.
  worker_groups_only = { StringEquals = { "aws:ResourceTag/k8s.io/cluster-autoscaler/${var.cluster_name}" = "owned" } }

  # Access points in this account and region: their ids are random, so a
  # tag condition, not the ARN, says which are the cluster's.
  access_points_arn = "arn:${local.partition}:elasticfilesystem:${local.region}:${local.account_id}:access-point/*"

  # Both roles list the bucket, unconditionally: S3 answers a missing key
  # with 404 only to a caller that may list the bucket, and checks that in
  # the GetObject request, which has no s3:prefix, so a prefix condition
  # would turn "no backup yet" or "no join material yet" into 403. Listing
  # shows key names only.
  list_bucket = {
    Sid      = "ListBucketSoMissingKeysRead404"
    Effect   = "Allow"
    Action   = ["s3:ListBucket"]
    Resource = [var.bucket_arn]
  }

  # The user data fetches the agent object version its launch template pins
  # (GetObject with a versionId is s3:GetObjectVersion), so that a newer
  # agent uploaded since does not fail the template's checksum.
  read_pinned_agent = {
    Sid      = "ReadPinnedAgentVersion"
    Effect   = "Allow"
    Action   = ["s3:GetObjectVersion"]
    Resource = ["${var.bucket_arn}/bootstrap/kforge-node-*"]
  }

  # Read-only EC2 lookups for the node agent and the drainer (the call has
  # no resource-level permissions).
  describe_instances = {
    Sid      = "DescribeInstances"
    Effect   = "Allow"
    Action   = ["ec2:DescribeInstances"]
    Resource = ["*"]
  }

  # SSM Session Manager for operators (no SSH, no open port): the agent
  # registers the instance and opens its message channels; nothing else of
  # AmazonSSMManagedInstanceCore (Run Command, inventory, patching,
  # parameters). The ssmmessages actions have no resource types, and AWS's
  # own Session Manager-only policy grants UpdateInstanceInformation on "*".
  session_manager = {
    Sid    = "SessionManager"
    Effect = "Allow"
    Action = [
      "ssm:UpdateInstanceInformation",
      "ssmmessages:CreateControlChannel",
      "ssmmessages:CreateDataChannel",
      "ssmmessages:OpenControlChannel",
      "ssmmessages:OpenDataChannel",
    ]
    Resource = ["*"]
  }

  # Documents are built with jsonencode so they are known at plan time,
  # testable offline and comparable with golden files.
  documents = {
    # The control plane: its own prefixes of the bucket, the key, its API
    # record, and read-only EC2 lookups for the node agent. Each action is
    # one a call of the agent, the drainer or S3 on their behalf makes.
    controller = {
      Version = "2012-10-17"
      Statement = [
        local.list_bucket,
        {
          Sid      = "ReadBootstrap"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = ["${var.bucket_arn}/bootstrap/*"]
        },
        local.read_pinned_agent,
        {
          Sid      = "ReadWriteOwnPrefixes"
          Effect   = "Allow"
          Action   = ["s3:AbortMultipartUpload", "s3:DeleteObject", "s3:GetObject", "s3:PutObject"]
          Resource = ["${var.bucket_arn}/controller/*", "${var.bucket_arn}/workers/*"]
        },
        # SSE-KMS objects: GenerateDataKey to write, Decrypt to read (and
        # for multipart uploads); S3 needs no other key permission.
        {
          Sid      = "UseClusterKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt", "kms:GenerateDataKey"]
          Resource = [var.kms_key_arn]
        },
        # The agent's only write to the zone: UPSERT of the A record
        # api.<domain>. ForAllValues holds only when every change in the
        # batch matches, and these keys are present on every
        # ChangeResourceRecordSets request; the record name is compared in
        # Route 53's normalized form (lowercase, no trailing dot).
        {
          Sid      = "UpdateApiRecord"
          Effect   = "Allow"
          Action   = ["route53:ChangeResourceRecordSets"]
          Resource = ["arn:${local.partition}:route53:::hostedzone/${var.zone_id}"]
          Condition = {
            "ForAllValues:StringEquals" = {
              "route53:ChangeResourceRecordSetsNormalizedRecordNames" = [var.api_record_name]
              "route53:ChangeResourceRecordSetsRecordTypes"           = ["A"]
              "route53:ChangeResourceRecordSetsActions"               = ["UPSERT"]
            }
          }
        },
        local.describe_instances,
        local.session_manager,
      ]
    }

    # Workers: read the agent and the join material, decrypt with the key.
    worker = {
      Version = "2012-10-17"
      Statement = [
        local.list_bucket,
        {
          Sid      = "ReadWorkerPrefixes"
          Effect   = "Allow"
          Action   = ["s3:GetObject"]
          Resource = ["${var.bucket_arn}/bootstrap/*", "${var.bucket_arn}/workers/*"]
        },
        local.read_pinned_agent,
        {
          Sid      = "DecryptWithClusterKey"
          Effect   = "Allow"
          Action   = ["kms:Decrypt"]
          Resource = [var.kms_key_arn]
        },
        local.describe_instances,
        local.session_manager,
      ]
    }

    # Cluster Autoscaler: describe anything, change only this cluster's
    # groups (name prefix and the ownership tag).
    cluster_autoscaler = {
      Version = "2012-10-17"
      Statement = [
        {
          Sid    = "Describe"
          Effect = "Allow"
          Action = [
            "autoscaling:DescribeAutoScalingGroups",
            "autoscaling:DescribeAutoScalingInstances",
            "autoscaling:DescribeLaunchConfigurations",
            "autoscaling:DescribeScalingActivities",
            "autoscaling:DescribeTags",
            "ec2:DescribeImages",
            "ec2:DescribeInstanceTypes",
            "ec2:DescribeLaunchTemplateVersions",
            "ec2:GetInstanceTypesFromInstanceRequirements",
          ]
          Resource = ["*"]
        },
        {
          Sid       = "ScaleOwnGroups"
          Effect    = "Allow"
          Action    = ["autoscaling:SetDesiredCapacity", "autoscaling:TerminateInstanceInAutoScalingGroup"]
          Resource  = [local.own_groups_arn]
          Condition = local.worker_groups_only
        },
      ]
    }

    # The node events drainer (kforge node drain-events): receive and
    # delete the messages of the cluster's node events queue (named by the
    # interruption module; SQS-managed encryption, so no KMS grant), and
    # answer the termination lifecycle actions of the cluster's own groups.
    # It never extends a wait (no RecordLifecycleActionHeartbeat: its drain
    # ends before the heartbeat timeout) and reads the queue's attributes
    # never (no GetQueueAttributes). The groups are matched by name prefix
    # and by the cluster tag, which AWS evaluates for this action as
    # autoscaling:ResourceTag/<key>.
    node_drainer = {
      Version = "2012-10-17"
      Statement = [
        {
          Sid      = "ReadNodeEvents"
          Effect   = "Allow"
          Action   = ["sqs:DeleteMessage", "sqs:ReceiveMessage"]
          Resource = ["arn:${local.partition}:sqs:${local.region}:${local.account_id}:${var.cluster_name}-node-events"]
        },
        {
          Sid       = "CompleteOwnLifecycleActions"
          Effect    = "Allow"
          Action    = ["autoscaling:CompleteLifecycleAction"]
          Resource  = [local.own_groups_arn]
          Condition = { StringEquals = { "autoscaling:ResourceTag/${local.cluster_tag}" = var.cluster_name } }
        },
        {
          # A control plane that restored a snapshot by itself replaces the
          # workers the restored cluster has no Node of, and never its own
          # group (worker_groups_only).
          Sid       = "ReplaceWorkersWithoutNode"
          Effect    = "Allow"
          Action    = ["autoscaling:TerminateInstanceInAutoScalingGroup"]
          Resource  = [local.own_groups_arn]
          Condition = local.worker_groups_only
        },
      ]
    }

    # EFS CSI driver (upstream example policy, scoped to this cluster): the
    # driver tags every access point it creates with
    # efs.csi.aws.com/cluster=true and, through its --tags flag,
    # kforge.io/cluster=<cluster>. Creation only in this file system with
    # both tags; tagging only on creation or of this cluster's access
    # points; deletion only of this cluster's. The CSI tag alone is shared
    # by every cluster in the account, so it no longer suffices.
    efs_csi = {
      Version = "2012-10-17"
      Statement = [
        {
          Sid    = "Describe"
          Effect = "Allow"
          Action = [
            "ec2:DescribeAvailabilityZones",
            "elasticfilesystem:DescribeAccessPoints",
            "elasticfilesystem:DescribeFileSystems",
            "elasticfilesystem:DescribeMountTargets",
          ]
          Resource = ["*"]
        },
        {
          Sid      = "CreateOwnAccessPoints"
          Effect   = "Allow"
          Action   = ["elasticfilesystem:CreateAccessPoint"]
          Resource = [var.efs_file_system_arn]
          Condition = { StringEquals = {
            "aws:RequestTag/efs.csi.aws.com/cluster" = "true"
            "aws:RequestTag/${local.cluster_tag}"    = var.cluster_name
          } }
        },
        {
          Sid      = "TagAccessPointsOnCreate"
          Effect   = "Allow"
          Action   = ["elasticfilesystem:TagResource"]
          Resource = [local.access_points_arn]
          Condition = { StringEquals = {
            "elasticfilesystem:CreateAction"      = "CreateAccessPoint"
            "aws:RequestTag/${local.cluster_tag}" = var.cluster_name
          } }
        },
        {
          Sid       = "TagOwnAccessPoints"
          Effect    = "Allow"
          Action    = ["elasticfilesystem:TagResource"]
          Resource  = [local.access_points_arn]
          Condition = { StringEquals = { "aws:ResourceTag/${local.cluster_tag}" = var.cluster_name } }
        },
        {
          Sid      = "DeleteOwnAccessPoints"
          Effect   = "Allow"
          Action   = ["elasticfilesystem:DeleteAccessPoint"]
          Resource = [local.access_points_arn]
          Condition = { StringEquals = {
            "aws:ResourceTag/efs.csi.aws.com/cluster" = "true"
            "aws:ResourceTag/${local.cluster_tag}"    = var.cluster_name
          } }
        },
      ]
    }
  }

  # Cluster Autoscaler, the EFS CSI controller and the node events drainer
  # run on the control plane (self-managed cluster: no IRSA), so their
  # policies go to its role.
  attachments = {
    controller         = aws_iam_role.controller.name
    worker             = aws_iam_role.worker.name
    cluster_autoscaler = aws_iam_role.controller.name
    efs_csi            = aws_iam_role.controller.name
    node_drainer       = aws_iam_role.controller.name
  }
}

resource "aws_iam_policy" "this" {
  for_each = local.documents

  name        = "${var.cluster_name}-${replace(each.key, "_", "-")}"
  description = "kforge ${var.cluster_name}: ${replace(each.key, "_", " ")}"
  policy      = jsonencode(each.value)
  tags        = var.tags
}

resource "aws_iam_role_policy_attachment" "this" {
  for_each = local.attachments

  role       = each.value
  policy_arn = aws_iam_policy.this[each.key].arn
}
