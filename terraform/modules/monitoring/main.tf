# The alarms of docs/operations.md ("What each alarm means"), all to one encrypted SNS topic.
data "aws_caller_identity" "current" {}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
  tags              = var.tags
}

data "aws_iam_policy_document" "alarms" {
  statement {
    sid       = "AlarmsAndEvents"
    actions   = ["sns:Publish"]
    resources = [aws_sns_topic.alarms.arn]

    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com", "events.amazonaws.com"]
    }

    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sns_topic_policy" "alarms" {
  arn    = aws_sns_topic.alarms.arn
  policy = data.aws_iam_policy_document.alarms.json
}

resource "aws_sns_topic_subscription" "email" {
  for_each = toset(var.alarm_emails)

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.value
}

locals {
  alb_dimensions = {
    LoadBalancer = var.alb_arn_suffix
    TargetGroup  = var.target_group_arn_suffix
  }
  actions = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lookup_p99" {
  alarm_name          = "${var.name}-lookup-p99"
  alarm_description   = "Lookup p99 above ${var.p99_threshold_seconds}s for 3 of 5 minutes: exchanges time out. See docs/operations.md#lookup-p99."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "TargetResponseTime"
  dimensions          = local.alb_dimensions
  extended_statistic  = "p99"
  period              = 60
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.p99_threshold_seconds
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

resource "aws_cloudwatch_metric_alarm" "lookup_5xx_rate" {
  alarm_name          = "${var.name}-lookup-5xx-rate"
  alarm_description   = "More than ${var.error_rate_threshold_percent}% of lookups answered 5xx for 3 of 5 minutes (503 = Valkey down or slow). See docs/operations.md#lookup-5xx-rate."
  evaluation_periods  = 5
  datapoints_to_alarm = 3
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.error_rate_threshold_percent
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags

  metric_query {
    id          = "rate"
    expression  = "100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests"
    label       = "5xx percent"
    return_data = true
  }

  metric_query {
    id = "target5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_Target_5XX_Count"
      dimensions  = local.alb_dimensions
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "elb5xx"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "HTTPCode_ELB_5XX_Count"
      dimensions  = { LoadBalancer = var.alb_arn_suffix }
      period      = 60
      stat        = "Sum"
    }
  }

  metric_query {
    id = "requests"

    metric {
      namespace   = "AWS/ApplicationELB"
      metric_name = "RequestCount"
      dimensions  = local.alb_dimensions
      period      = 60
      stat        = "Sum"
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "redis_memory" {
  for_each = toset(var.redis_member_cluster_ids)

  alarm_name          = "${each.value}-memory"
  alarm_description   = "Valkey node ${each.value} above ${var.redis_memory_threshold_percent}% of maxmemory; at 100% publishes fail (noeviction). See docs/operations.md#valkey-memory."
  namespace           = "AWS/ElastiCache"
  metric_name         = "DatabaseMemoryUsagePercentage"
  dimensions          = { CacheClusterId = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  comparison_operator = "GreaterThanThreshold"
  threshold           = var.redis_memory_threshold_percent
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# A failed EMR Serverless job run (any stage, daily or training) fires this rule...
resource "aws_cloudwatch_event_rule" "job_failed" {
  name        = "${var.name}-emr-job-failed"
  description = "EMR Serverless job run of ${var.name} reached FAILED"
  tags        = var.tags

  event_pattern = jsonencode({
    source        = ["aws.emr-serverless"]
    "detail-type" = ["EMR Serverless Job Run State Change"]
    detail = {
      applicationId = [var.emr_application_id]
      state         = ["FAILED"]
    }
  })
}

resource "aws_cloudwatch_event_target" "job_failed" {
  rule = aws_cloudwatch_event_rule.job_failed.name
  arn  = aws_sns_topic.alarms.arn
}

# ...and this alarm turns it into an alarm state people can see and acknowledge.
resource "aws_cloudwatch_metric_alarm" "daily_job_failed" {
  alarm_name          = "${var.name}-daily-job-failed"
  alarm_description   = "An EMR job run of the daily chain or training FAILED. See docs/operations.md#daily-job-failed."
  namespace           = "AWS/Events"
  metric_name         = "TriggeredRules"
  dimensions          = { RuleName = aws_cloudwatch_event_rule.job_failed.name }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  tags                = var.tags
}

# daily.yml puts idgraph/DailySucceeded=1 after a published day; silence means no fresh graph.
resource "aws_cloudwatch_metric_alarm" "daily_job_missing" {
  alarm_name          = "${var.name}-daily-job-missing"
  alarm_description   = "No successful daily run for ${var.daily_success_hours} hours: the served graph is getting stale. See docs/operations.md#daily-job-missing."
  namespace           = "idgraph"
  metric_name         = "DailySucceeded"
  dimensions          = { Environment = var.name }
  statistic           = "Maximum"
  period              = 3600
  evaluation_periods  = var.daily_success_hours
  datapoints_to_alarm = var.daily_success_hours
  comparison_operator = "LessThanThreshold"
  threshold           = 1
  treat_missing_data  = "breaching"
  alarm_actions       = local.actions
  ok_actions          = local.actions
  tags                = var.tags
}

# The graph job puts GraphDegraded=1 for a day scored without a model although one existed or a
# training was tried, or whose probabilistic edges fell by more than half (spark_jobs/graph/
# metrics.py). No datum is fine: a missing day is daily_job_missing's business.
resource "aws_cloudwatch_metric_alarm" "graph_degraded" {
  alarm_name          = "${var.name}-graph-degraded"
  alarm_description   = "The daily graph was degraded (no model although one existed, or probabilistic edges halved); publish refuses it unless --force. See docs/operations.md#graph-degraded."
  namespace           = var.graph_metrics_namespace
  metric_name         = "GraphDegraded"
  statistic           = "Maximum"
  period              = 86400
  evaluation_periods  = 1
  comparison_operator = "GreaterThanOrEqualToThreshold"
  threshold           = 1
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.actions
  tags                = var.tags
}
