variable "region" {
  type        = string
  description = "AWS region of the environment."
  default     = "eu-west-1"
}

variable "environment" {
  type        = string
  description = "Environment name; also the GitHub environment whose workflows may deploy here."
  default     = "dev"
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones used (Valkey replicas and tasks spread over them)."
  default     = ["eu-west-1a", "eu-west-1b"]
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the environment's VPC."
  default     = "10.50.0.0/16"
}

variable "github_repository" {
  type        = string
  description = "owner/name of the GitHub repository allowed to assume the CI roles."
}

variable "github_oidc_provider_arn" {
  type        = string
  description = "ARN of the GitHub OIDC provider created by terraform/bootstrap."
}

variable "alb_certificate_arn" {
  type        = string
  description = "ACM certificate of the lookup ALB's HTTPS listener."
}

variable "allowed_cidr_blocks" {
  type        = list(string)
  description = "Networks (exchange integrations) allowed to reach the internal lookup ALB."
}

variable "alarm_emails" {
  type        = list(string)
  description = "Addresses receiving alarm notifications."
  default     = []
}

variable "emr_release_label" {
  type        = string
  description = "EMR Serverless release; its Spark must match the pinned pyspark major.minor."
}

variable "emr_image_uri" {
  type        = string
  description = "Optional custom EMR Serverless image providing Python 3.11 for the packed venv."
  default     = null
}

variable "emr_max_vcpu" {
  type        = number
  description = "vCPU ceiling of all EMR jobs together (cost guard)."
  default     = 64
}

variable "emr_max_memory_gb" {
  type        = number
  description = "Memory ceiling (GB) of all EMR jobs together."
  default     = 256
}

variable "valkey_node_type" {
  type        = string
  description = "Valkey node type."
  default     = "cache.r7g.large"
}

variable "valkey_shards" {
  type        = number
  description = "Valkey shards (node groups)."
  default     = 2
}

variable "valkey_replicas_per_shard" {
  type        = number
  description = "Valkey replicas per shard."
  default     = 1
}

variable "lookup_min_tasks" {
  type        = number
  description = "Minimum lookup-service tasks."
  default     = 2
}

variable "lookup_max_tasks" {
  type        = number
  description = "Maximum lookup-service tasks."
  default     = 4
}

variable "raw_retention_days" {
  type        = number
  description = "Days raw pixel events are kept (at least 180, the training window)."
  default     = 180
}
