# EMR Serverless rather than an EMR-on-EC2 cluster: the workload is one daily chain (about an
# hour) and one weekly training run. A cluster would idle ~22 hours a day or be created and
# torn down by CI (slow, and bootstrap actions to maintain); a Serverless application scales to
# zero between runs, has no nodes to patch, caps spend with maximum_capacity, and gives every
# job run its own state, logs and runtime role. The code and its dependencies arrive as a
# venv-pack archive through spark.archives (set below and per job by `idgraph submit`).
data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  python          = "./environment/bin/python"
  current_archive = "s3://${var.artifacts_bucket_name}/code/current/idgraph-venv.tar.gz#environment"
}

resource "aws_security_group" "jobs" {
  #checkov:skip=CKV2_AWS_5:Attached through aws_emrserverless_application.network_configuration, which checkov's graph does not follow.
  name        = "${var.name}-emr-jobs"
  description = "EMR Serverless job workers: AWS APIs, S3 and Valkey only"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description = "Spark driver and executors talk to each other"
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    self        = true
  }

  egress {
    description = "Spark driver and executors talk to each other"
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    self        = true
  }

  egress {
    description     = "S3 through the gateway endpoint"
    from_port       = 443
    to_port         = 443
    protocol        = "tcp"
    prefix_list_ids = [var.s3_prefix_list_id]
  }

  egress {
    description = "Interface endpoints (STS, Secrets Manager, KMS, logs)"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr_block]
  }

  egress {
    description = "Valkey (publish stage)"
    from_port   = 6379
    to_port     = 6379
    protocol    = "tcp"
    cidr_blocks = [var.vpc_cidr_block]
  }
}

resource "aws_emrserverless_application" "this" {
  name          = var.name
  release_label = var.release_label
  type          = "spark"
  architecture  = "X86_64"
  tags          = var.tags

  maximum_capacity {
    cpu    = "${var.max_vcpu} vCPU"
    memory = "${var.max_memory_gb} GB"
  }

  auto_start_configuration {
    enabled = true
  }

  auto_stop_configuration {
    enabled              = true
    idle_timeout_minutes = var.idle_timeout_minutes
  }

  network_configuration {
    subnet_ids         = var.subnet_ids
    security_group_ids = [aws_security_group.jobs.id]
  }

  dynamic "image_configuration" {
    for_each = var.image_uri == null ? [] : [var.image_uri]

    content {
      image_uri = image_configuration.value
    }
  }

  # Defaults for every job; `idgraph submit` pins spark.archives to the exact code version.
  runtime_configuration {
    classification = "spark-defaults"
    properties = {
      "spark.archives"                                       = local.current_archive
      "spark.emr-serverless.driverEnv.PYSPARK_DRIVER_PYTHON" = local.python
      "spark.emr-serverless.driverEnv.PYSPARK_PYTHON"        = local.python
      "spark.executorEnv.PYSPARK_PYTHON"                     = local.python
      "spark.sql.sources.partitionOverwriteMode"             = "dynamic"
    }
  }

  monitoring_configuration {
    s3_monitoring_configuration {
      log_uri            = "s3://${var.logs_bucket_name}/emr/"
      encryption_key_arn = var.kms_key_arn
    }
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]

    principals {
      type        = "Service"
      identifiers = ["emr-serverless.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }

    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = ["arn:${data.aws_partition.current.partition}:emr-serverless:*:${data.aws_caller_identity.current.account_id}:/applications/*"]
    }
  }
}

resource "aws_iam_role" "job" {
  name               = "${var.name}-emr-job"
  description        = "Runtime role of idgraph EMR Serverless jobs"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

# The key of the ETL's keyed IP hashes (etl.ip_hash_key_secret_arn). Terraform creates the
# secret without a value: an operator puts the value out of band (docs/operations.md), so the
# key is in no state file and no code. Only the job role may read it.
resource "aws_secretsmanager_secret" "ip_hash_key" {
  #checkov:skip=CKV2_AWS_57:Rotating this key changes every IP hash of the lake; it is rotated by hand together with a rebuild of the feature window (docs/operations.md), not by a Lambda.
  name                    = "${var.name}/etl-ip-hash-key"
  description             = "Key of the keyed IP hashes of ${var.name} (IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN); value put out of band"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = 30
  tags                    = var.tags
}

# Nobody but the job role reads the value, whatever their IAM policies allow.
data "aws_iam_policy_document" "ip_hash_key" {
  statement {
    sid       = "OnlyTheJobRoleReadsTheKey"
    effect    = "Deny"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = ["*"]

    principals {
      type        = "AWS"
      identifiers = ["*"]
    }

    condition {
      test     = "StringNotEquals"
      variable = "aws:PrincipalArn"
      values   = [aws_iam_role.job.arn]
    }
  }
}

resource "aws_secretsmanager_secret_policy" "ip_hash_key" {
  secret_arn = aws_secretsmanager_secret.ip_hash_key.arn
  policy     = data.aws_iam_policy_document.ip_hash_key.json
}

# Least privilege: read raw events and code, read/write the lake and models, write logs,
# read the Valkey secret and the IP hash key, put metrics in the graph's one namespace.
# Nothing else (no IAM, no other buckets).
data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ListOwnBuckets"
    actions   = ["s3:ListBucket", "s3:GetBucketLocation"]
    resources = values(var.bucket_arns)
  }

  statement {
    sid       = "ReadRawAndCode"
    actions   = ["s3:GetObject"]
    resources = ["${var.bucket_arns.raw}/*", "${var.bucket_arns.artifacts}/code/*"]
  }

  statement {
    sid       = "ReadWriteLakeAndModels"
    actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"]
    resources = ["${var.bucket_arns.lake}/*", "${var.bucket_arns.models}/*"]
  }

  statement {
    sid       = "WriteJobLogs"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.bucket_arns.logs}/emr/*"]
  }

  statement {
    sid       = "UseDataKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid       = "ReadValkeyUrl"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.redis_url_secret_arn]
  }

  statement {
    sid       = "ReadIpHashKey"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [aws_secretsmanager_secret.ip_hash_key.arn]
  }

  statement {
    sid       = "PutGraphHealthMetrics"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions; the namespace is pinned

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = [var.metrics_namespace]
    }
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "idgraph-jobs"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}
