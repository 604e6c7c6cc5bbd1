variable "region" {
  type        = string
  description = "Region of the state bucket and lock table (same as the environments)."
  default     = "eu-west-1"
}

variable "github_repository" {
  type        = string
  description = "owner/name of the GitHub repository whose workflows run Terraform."
}

variable "plan_environment" {
  type        = string
  description = "GitHub environment of the plan job (pull requests); read-only role."
  default     = "infra-plan"
}

variable "apply_environment" {
  type        = string
  description = "Protected GitHub environment of the apply job (main only, reviewers required)."
  default     = "infra-apply"
}
