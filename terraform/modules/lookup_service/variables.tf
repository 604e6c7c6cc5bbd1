variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. idgraph-prod."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
  default     = {}
}

variable "vpc_id" {
  type        = string
  description = "VPC of the service."
}

variable "vpc_cidr_block" {
  type        = string
  description = "CIDR of the VPC, for egress to interface endpoints and Valkey."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets of the ALB and the tasks."
}

variable "s3_prefix_list_id" {
  type        = string
  description = "Prefix list of the S3 gateway endpoint (ECR image layers come from S3)."
}

variable "allowed_cidr_blocks" {
  type        = list(string)
  description = "Networks allowed to call the internal ALB (ad-exchange integrations over peering/PrivateLink)."
}

variable "certificate_arn" {
  type        = string
  description = "ACM certificate of the ALB's HTTPS listener."
}

variable "access_log_bucket" {
  type        = string
  description = "Bucket (SSE-S3) receiving ALB access logs under alb/."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for ECR, logs and secrets."
}

variable "redis_url_secret_arn" {
  type        = string
  description = "Secret holding the rediss:// URL (IDGRAPH_REDIS_URL)."
}

variable "image_tag" {
  type        = string
  description = "Image tag of the first deployment; later ones are rolled by deploy-service.yml."
  default     = "bootstrap"
}

variable "container_port" {
  type        = number
  description = "Port the service listens on in the container (IDGRAPH_PORT)."
  default     = 8080
}

variable "cpu" {
  type        = number
  description = "Fargate task CPU units (1024 = 1 vCPU)."
  default     = 1024
}

variable "memory" {
  type        = number
  description = "Fargate task memory (MiB)."
  default     = 2048
}

variable "eids_source" {
  type        = string
  description = "Source domain in OpenRTB user.eids responses (IDGRAPH_EIDS_SOURCE)."
  default     = "idgraph.example.com"
}

variable "min_tasks" {
  type        = number
  description = "Minimum running tasks (at least 2, one per AZ)."
  default     = 2
}

variable "max_tasks" {
  type        = number
  description = "Maximum running tasks."
  default     = 20
}

variable "cpu_target_percent" {
  type        = number
  description = "Average CPU the CPU scaling policy keeps the service at."
  default     = 55
}

variable "response_time_target_seconds" {
  type        = number
  description = "Average ALB target response time the latency scaling policy keeps the service under."
  default     = 0.01
}

variable "deletion_protection" {
  type        = bool
  description = "Protect the ALB against deletion."
  default     = true
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the container log group, in days."
  default     = 365
}
