output "alarm_topic_arn" {
  description = "SNS topic every alarm notifies."
  value       = aws_sns_topic.alarms.arn
}

output "alarm_names" {
  description = "Names of the alarms (lookup p99, 5xx rate, daily job failed/missing, graph degraded, Valkey memory per node)."
  value = concat(
    [
      aws_cloudwatch_metric_alarm.lookup_p99.alarm_name,
      aws_cloudwatch_metric_alarm.lookup_5xx_rate.alarm_name,
      aws_cloudwatch_metric_alarm.daily_job_failed.alarm_name,
      aws_cloudwatch_metric_alarm.daily_job_missing.alarm_name,
      aws_cloudwatch_metric_alarm.graph_degraded.alarm_name,
    ],
    [for alarm in aws_cloudwatch_metric_alarm.redis_memory : alarm.alarm_name],
  )
}
