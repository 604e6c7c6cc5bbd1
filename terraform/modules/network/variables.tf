variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. idgraph-prod."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
  default     = {}
}

variable "cidr_block" {
  type        = string
  description = "IPv4 CIDR of the VPC."
  default     = "10.40.0.0/16"

  validation {
    condition     = can(cidrnetmask(var.cidr_block))
    error_message = "cidr_block must be a valid IPv4 CIDR."
  }
}

variable "availability_zones" {
  type        = list(string)
  description = "Availability zones of the private subnets (at least two, for multi-AZ Valkey and ALB)."

  validation {
    condition     = length(var.availability_zones) >= 2
    error_message = "At least two availability zones are needed."
  }
}

variable "interface_endpoints" {
  type        = list(string)
  description = "AWS services reached through interface endpoints, since the subnets have no internet route."
  default     = ["ecr.api", "ecr.dkr", "logs", "secretsmanager", "sts", "monitoring", "kms"]
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key encrypting the flow-log group."
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the VPC flow-log group, in days."
  default     = 365
}
