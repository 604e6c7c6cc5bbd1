variable "bucket_name" {
  type        = string
  description = "Globally unique bucket name."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
  default     = {}
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for default SSE-KMS encryption (bucket keys on, to cut KMS request costs)."
}

variable "access_log_bucket" {
  type        = string
  description = "Bucket receiving this bucket's S3 server access logs."
}

variable "lifecycle_rules" {
  type = list(object({
    id                         = string
    prefix                     = optional(string, "")
    expiration_days            = optional(number)
    transition_ia_days         = optional(number)
    noncurrent_expiration_days = optional(number, 30)
  }))
  description = "Lifecycle rules: expiry of current objects, optional move to STANDARD_IA, expiry of old versions."
  default     = [{ id = "old-versions" }]
}

variable "extra_policy_json" {
  type        = string
  description = "Further bucket-policy statements (JSON policy document) merged with the TLS-only rule."
  default     = null
}

variable "force_destroy" {
  type        = bool
  description = "Allow destroying a non-empty bucket (dev only)."
  default     = false
}
