variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. idgraph-prod."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
  default     = {}
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the alarm topic."
}

variable "alarm_emails" {
  type        = list(string)
  description = "E-mail addresses subscribed to the alarm topic (confirm the subscription mail)."
  default     = []
}

variable "alb_arn_suffix" {
  type        = string
  description = "ALB ARN suffix of the lookup service."
}

variable "target_group_arn_suffix" {
  type        = string
  description = "Target group ARN suffix of the lookup service."
}

variable "p99_threshold_seconds" {
  type        = number
  description = "Lookup p99 (ALB target response time) above which the latency alarm fires."
  default     = 0.05
}

variable "error_rate_threshold_percent" {
  type        = number
  description = "Share of 5xx responses (target and ALB) above which the error alarm fires."
  default     = 1
}

variable "redis_member_cluster_ids" {
  type        = list(string)
  description = "Valkey node ids (one memory alarm each)."
}

variable "redis_memory_threshold_percent" {
  type        = number
  description = "DatabaseMemoryUsagePercentage above which a node's memory alarm fires (noeviction: writes fail at 100)."
  default     = 80
}

variable "emr_application_id" {
  type        = string
  description = "EMR Serverless application whose failed job runs raise the job-failure alarm."
}

variable "daily_success_hours" {
  type        = number
  description = "Hours without a successful daily run (metric idgraph/DailySucceeded) before the staleness alarm fires."
  default     = 26
}

variable "graph_metrics_namespace" {
  type        = string
  description = "CloudWatch namespace the graph job puts its health metrics in (GraphDegraded, ...)."
  default     = "idgraph/graph"
}
