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
  description = "KMS key encrypting the data buckets."
}

variable "raw_retention_days" {
  type        = number
  description = "Days raw pixel events are kept; weekly training reads the last 180 days of visits."
  default     = 200

  validation {
    condition     = var.raw_retention_days >= 180
    error_message = "Raw events must be kept at least 180 days for the weekly training."
  }
}

variable "log_retention_days" {
  type        = number
  description = "Days EMR job logs are kept in the logs bucket."
  default     = 90
}

variable "access_log_retention_days" {
  type        = number
  description = "Days S3 server access logs and ALB access logs are kept."
  default     = 365
}

variable "force_destroy" {
  type        = bool
  description = "Allow destroying non-empty buckets (dev only)."
  default     = false
}
