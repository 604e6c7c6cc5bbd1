variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. idgraph-prod."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
  default     = {}
}

variable "release_label" {
  type        = string
  description = "EMR release; its Spark must match the pinned pyspark major.minor (4.1)."

  validation {
    condition     = can(regex("^emr-[0-9]+\\.[0-9]+\\.[0-9]+$", var.release_label))
    error_message = "release_label looks like emr-X.Y.Z."
  }
}

variable "image_uri" {
  type        = string
  description = "Optional custom image (EMR Serverless base + Python 3.11) the packed venv links against; null uses the release's image."
  default     = null
}

variable "vpc_id" {
  type        = string
  description = "VPC the jobs run in (to reach Valkey and the S3 gateway endpoint)."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC, for egress to interface endpoints and Valkey."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets for the job workers."
}

variable "s3_prefix_list_id" {
  type        = string
  description = "Prefix list of the S3 gateway endpoint."
}

variable "max_vcpu" {
  type        = number
  description = "Upper bound of vCPUs all running jobs may use together (cost guard)."
  default     = 200
}

variable "max_memory_gb" {
  type        = number
  description = "Upper bound of memory (GB) all running jobs may use together."
  default     = 1600
}

variable "idle_timeout_minutes" {
  type        = number
  description = "Minutes of idleness after which the application stops (no idle cost)."
  default     = 15
}

variable "bucket_arns" {
  type = object({
    raw       = string
    lake      = string
    models    = string
    logs      = string
    artifacts = string
  })
  description = "ARNs of the buckets the jobs read and write."
}

variable "logs_bucket_name" {
  type        = string
  description = "Bucket receiving driver and executor logs (under emr/)."
}

variable "artifacts_bucket_name" {
  type        = string
  description = "Bucket holding entrypoint.py, the wheel and the packed venv (under code/<version>/)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the buckets, logs and secrets."
}

variable "redis_url_secret_arn" {
  type        = string
  description = "Secret holding the rediss:// URL the publish stage writes to."
}

variable "metrics_namespace" {
  type        = string
  description = "The only CloudWatch namespace the jobs may put metrics in (the graph's health metrics)."
  default     = "idgraph/graph"
}
