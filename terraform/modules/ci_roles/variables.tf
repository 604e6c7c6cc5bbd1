variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. idgraph-prod."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
  default     = {}
}

variable "github_repository" {
  type        = string
  description = "owner/name of the GitHub repository whose workflows may assume the roles."

  validation {
    condition     = can(regex("^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$", var.github_repository))
    error_message = "github_repository is owner/name."
  }
}

variable "github_environment" {
  type        = string
  description = "GitHub environment (protected) the jobs and deploy workflows run in; only its tokens may assume the roles."
}

variable "oidc_provider_arn" {
  type        = string
  description = "ARN of the token.actions.githubusercontent.com OIDC provider (terraform/bootstrap)."
}

variable "artifacts_bucket_arn" {
  type        = string
  description = "Bucket the jobs workflow uploads code to."
}

variable "logs_bucket_arn" {
  type        = string
  description = "Bucket the jobs workflow reads driver logs from."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key of the buckets."
}

variable "emr_application_arn" {
  type        = string
  description = "EMR Serverless application the jobs workflow submits to."
}

variable "emr_job_role_arn" {
  type        = string
  description = "Runtime role the jobs workflow passes to EMR Serverless."
}

variable "ecr_repository_arn" {
  type        = string
  description = "Repository the deploy workflow pushes the lookup image to."
}

variable "ecs_cluster_name" {
  type        = string
  description = "ECS cluster of the lookup service."
}

variable "ecs_service_name" {
  type        = string
  description = "ECS service the deploy workflow rolls."
}

variable "ecs_task_role_arns" {
  type        = list(string)
  description = "Execution and task roles the deploy workflow passes to new task definitions."
}
