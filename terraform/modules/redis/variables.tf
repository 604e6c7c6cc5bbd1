variable "name" {
  type        = string
  description = "Name prefix of every resource, e.g. idgraph-prod (also the replication group id)."
}

variable "tags" {
  type        = map(string)
  description = "Tags applied to every resource of the module."
  default     = {}
}

variable "engine_version" {
  type        = string
  description = "Valkey engine version."
  default     = "8.0"
}

variable "parameter_group_family" {
  type        = string
  description = "Parameter group family matching engine_version."
  default     = "valkey8"
}

variable "node_type" {
  type        = string
  description = "Node type; memory-optimised (r7g) since the graph lives in RAM."
  default     = "cache.r7g.large"
}

variable "shards" {
  type        = number
  description = "Number of shards (node groups); each holds 1/N of the hash slots."
  default     = 3

  validation {
    condition     = var.shards >= 1 && var.shards <= 500
    error_message = "shards must be between 1 and 500."
  }
}

variable "replicas_per_shard" {
  type        = number
  description = "Replicas per shard (at least 1 for automatic failover across AZs)."
  default     = 1

  validation {
    condition     = var.replicas_per_shard >= 1 && var.replicas_per_shard <= 5
    error_message = "replicas_per_shard must be between 1 and 5."
  }
}

variable "hash_max_listpack_entries" {
  type        = number
  description = "Must exceed the largest hash bucket of docs/redis-format.md, or buckets convert to hashtables and cost more than plain keys."
  default     = 1024
}

variable "hash_max_listpack_value" {
  type        = number
  description = "Largest field/value (bytes) kept in listpack encoding; the packed values of docs/redis-format.md are far smaller."
  default     = 64
}

variable "vpc_id" {
  type        = string
  description = "VPC of the cluster."
}

variable "subnet_ids" {
  type        = list(string)
  description = "Private subnets in at least two AZs (multi-AZ)."
}

variable "client_security_group_ids" {
  type        = list(string)
  description = "Security groups allowed to connect (lookup service tasks, EMR jobs)."
}

variable "kms_key_arn" {
  type        = string
  description = "KMS key for at-rest encryption, the secrets and the slow-log group."
}

variable "snapshot_retention_days" {
  type        = number
  description = "Days of automatic daily snapshots (the lake can rebuild the graph; snapshots make it faster)."
  default     = 3
}

variable "log_retention_days" {
  type        = number
  description = "Retention of the slow-log group, in days."
  default     = 365
}
