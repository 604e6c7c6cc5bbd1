# Roles GitHub Actions assume through OIDC (no stored keys): one to upload code and submit EMR
# jobs, one to push the lookup image and roll the ECS service. Only workflow runs in the
# protected GitHub environment get a token whose subject matches.
data "aws_caller_identity" "current" {}
data "aws_region" "current" {}
data "aws_partition" "current" {}

locals {
  account = data.aws_caller_identity.current.account_id
  region  = data.aws_region.current.region
  arn     = "arn:${data.aws_partition.current.partition}"
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]

    principals {
      type        = "Federated"
      identifiers = [var.oidc_provider_arn]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:aud"
      values   = ["sts.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "token.actions.githubusercontent.com:sub"
      values   = ["repo:${var.github_repository}:environment:${var.github_environment}"]
    }
  }
}

resource "aws_iam_role" "jobs" {
  name                 = "${var.name}-gha-jobs"
  description          = "GitHub Actions: upload EMR artifacts, submit and watch job runs"
  assume_role_policy   = data.aws_iam_policy_document.assume.json
  max_session_duration = 14400 # a daily chain plus publish can run for a few hours
  tags                 = var.tags
}

data "aws_iam_policy_document" "jobs" {
  statement {
    sid       = "UploadCode"
    actions   = ["s3:PutObject", "s3:GetObject"]
    resources = ["${var.artifacts_bucket_arn}/code/*"]
  }

  statement {
    sid       = "ListCodeAndLogs"
    actions   = ["s3:ListBucket"]
    resources = [var.artifacts_bucket_arn, var.logs_bucket_arn]
  }

  statement {
    sid       = "ReadDriverLogs"
    actions   = ["s3:GetObject"]
    resources = ["${var.logs_bucket_arn}/emr/*"]
  }

  statement {
    sid       = "BucketKey"
    actions   = ["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }

  statement {
    sid = "RunJobs"
    actions = [
      "emr-serverless:StartJobRun",
      "emr-serverless:GetJobRun",
      "emr-serverless:CancelJobRun",
      "emr-serverless:ListJobRuns",
      "emr-serverless:GetApplication",
      "emr-serverless:TagResource",
    ]
    resources = [var.emr_application_arn, "${var.emr_application_arn}/jobruns/*"]
  }

  statement {
    sid       = "PassJobRole"
    actions   = ["iam:PassRole"]
    resources = [var.emr_job_role_arn]

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["emr-serverless.amazonaws.com"]
    }
  }

  statement {
    sid       = "DailySuccessMetric"
    actions   = ["cloudwatch:PutMetricData"]
    resources = ["*"] # PutMetricData has no resource-level permissions; the namespace is pinned

    condition {
      test     = "StringEquals"
      variable = "cloudwatch:namespace"
      values   = ["idgraph"]
    }
  }
}

resource "aws_iam_role_policy" "jobs" {
  name   = "submit-jobs"
  role   = aws_iam_role.jobs.id
  policy = data.aws_iam_policy_document.jobs.json
}

resource "aws_iam_role" "deploy" {
  name               = "${var.name}-gha-deploy"
  description        = "GitHub Actions: push the lookup image and roll the ECS service"
  assume_role_policy = data.aws_iam_policy_document.assume.json
  tags               = var.tags
}

data "aws_iam_policy_document" "deploy" {
  #checkov:skip=CKV_AWS_111:ecs:RegisterTaskDefinition and ecr:GetAuthorizationToken support no resource-level permissions.
  #checkov:skip=CKV_AWS_356:ecs:RegisterTaskDefinition/DescribeTaskDefinition and ecr:GetAuthorizationToken support no resource-level permissions.
  statement {
    sid       = "EcrLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid = "PushImage"
    actions = [
      "ecr:BatchCheckLayerAvailability",
      "ecr:InitiateLayerUpload",
      "ecr:UploadLayerPart",
      "ecr:CompleteLayerUpload",
      "ecr:PutImage",
      "ecr:BatchGetImage",
    ]
    resources = [var.ecr_repository_arn]
  }

  statement {
    sid       = "TaskDefinitions"
    actions   = ["ecs:RegisterTaskDefinition", "ecs:DescribeTaskDefinition"]
    resources = ["*"]
  }

  statement {
    sid       = "RollService"
    actions   = ["ecs:UpdateService", "ecs:DescribeServices"]
    resources = ["${local.arn}:ecs:${local.region}:${local.account}:service/${var.ecs_cluster_name}/${var.ecs_service_name}"]
  }

  statement {
    sid       = "PassTaskRoles"
    actions   = ["iam:PassRole"]
    resources = var.ecs_task_role_arns

    condition {
      test     = "StringEquals"
      variable = "iam:PassedToService"
      values   = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role_policy" "deploy" {
  name   = "deploy-lookup"
  role   = aws_iam_role.deploy.id
  policy = data.aws_iam_policy_document.deploy.json
}
