# The buckets of one environment. Raw pixel events, the lake (every derived table), models
# (the MLflow artefact store), job logs, and build artefacts each get their own bucket so IAM
# can grant each job exactly the prefixes it needs.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_elb_service_account" "current" {}

locals {
  suffix = data.aws_caller_identity.current.account_id
}

module "raw" {
  source = "../s3_bucket"

  bucket_name       = "${var.name}-raw-${local.suffix}"
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = aws_s3_bucket.access_logs.id
  force_destroy     = var.force_destroy
  tags              = merge(var.tags, { data = "raw-pixel-events" })
  lifecycle_rules = [{
    id                         = "raw-retention"
    prefix                     = "raw/"
    transition_ia_days         = 30
    expiration_days            = var.raw_retention_days
    noncurrent_expiration_days = 7
  }]
}

module "lake" {
  source = "../s3_bucket"

  bucket_name       = "${var.name}-lake-${local.suffix}"
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = aws_s3_bucket.access_logs.id
  force_destroy     = var.force_destroy
  tags              = merge(var.tags, { data = "lake" })
  lifecycle_rules = [
    # Re-running a day overwrites its partitions; the replaced files linger as versions.
    { id = "replaced-partitions", noncurrent_expiration_days = 14 },
    { id = "checkpoints", prefix = "lake/_checkpoints/", expiration_days = 7, noncurrent_expiration_days = 1 },
  ]
}

module "models" {
  source = "../s3_bucket"

  bucket_name       = "${var.name}-models-${local.suffix}"
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = aws_s3_bucket.access_logs.id
  force_destroy     = var.force_destroy
  tags              = merge(var.tags, { data = "models" })
  lifecycle_rules   = [{ id = "old-versions", noncurrent_expiration_days = 365 }]
}

module "logs" {
  source = "../s3_bucket"

  bucket_name       = "${var.name}-logs-${local.suffix}"
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = aws_s3_bucket.access_logs.id
  force_destroy     = var.force_destroy
  tags              = merge(var.tags, { data = "job-logs" })
  lifecycle_rules = [{
    id                         = "log-retention"
    expiration_days            = var.log_retention_days
    noncurrent_expiration_days = 7
  }]
}

module "artifacts" {
  source = "../s3_bucket"

  bucket_name       = "${var.name}-artifacts-${local.suffix}"
  kms_key_arn       = var.kms_key_arn
  access_log_bucket = aws_s3_bucket.access_logs.id
  force_destroy     = var.force_destroy
  tags              = merge(var.tags, { data = "build-artifacts" })
  lifecycle_rules = [{
    id                         = "old-builds"
    prefix                     = "code/"
    expiration_days            = 180
    noncurrent_expiration_days = 7
  }]
}

# S3 server access logs and ALB access logs can only be delivered to SSE-S3 buckets, so this
# one bucket uses S3-managed keys; it holds request metadata, never lake data.
resource "aws_s3_bucket" "access_logs" {
  #checkov:skip=CKV_AWS_145:S3 server access logging and ALB access logs only support SSE-S3 destination buckets.
  #checkov:skip=CKV_AWS_18:This is the access-log destination; logging it into itself would loop.
  #checkov:skip=CKV_AWS_144:Access logs are not replicated: losing them does not lose data.
  #checkov:skip=CKV2_AWS_62:No consumer of event notifications on access logs.
  bucket        = "${var.name}-access-logs-${local.suffix}"
  force_destroy = var.force_destroy
  tags          = merge(var.tags, { data = "access-logs" })
}

resource "aws_s3_bucket_ownership_controls" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_public_access_block" "access_logs" {
  bucket                  = aws_s3_bucket.access_logs.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id

  rule {
    id     = "access-log-retention"
    status = "Enabled"

    filter {}

    expiration {
      days = var.access_log_retention_days
    }

    noncurrent_version_expiration {
      noncurrent_days = 7
    }

    abort_incomplete_multipart_upload {
      days_after_initiation = 7
    }
  }

  depends_on = [aws_s3_bucket_versioning.access_logs]
}

data "aws_iam_policy_document" "access_logs" {
  statement {
    sid       = "S3ServerAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/s3/*"]

    principals {
      type        = "Service"
      identifiers = ["logging.s3.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }

  # Newer regions deliver ALB logs as a service principal, older ones from a regional account.
  statement {
    sid       = "AlbAccessLogs"
    actions   = ["s3:PutObject"]
    resources = ["${aws_s3_bucket.access_logs.arn}/alb/AWSLogs/${data.aws_caller_identity.current.account_id}/*"]

    principals {
      type        = "Service"
      identifiers = ["logdelivery.elasticloadbalancing.amazonaws.com"]
    }

    principals {
      type        = "AWS"
      identifiers = [data.aws_elb_service_account.current.arn]
    }
  }

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.access_logs.arn,
      "${aws_s3_bucket.access_logs.arn}/*",
    ]

    principals {
      type        = "*"
      identifiers = ["*"]
    }

    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "access_logs" {
  bucket = aws_s3_bucket.access_logs.id
  policy = data.aws_iam_policy_document.access_logs.json

  depends_on = [aws_s3_bucket_public_access_block.access_logs]
}
