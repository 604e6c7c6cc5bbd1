# Valkey in cluster mode: the graph is sharded over num_node_groups primaries, each with
# replicas in other AZs, encrypted in transit (TLS required) and at rest, protected by an AUTH
# token that lives in Secrets Manager. The parameter group matches docs/redis-format.md.
locals {
  port = 6379
  # ElastiCache names cluster-mode members <group>-<shard:4>-<node:3>; known before apply,
  # which lets the monitoring module create one memory alarm per node.
  member_cluster_ids = flatten([
    for shard in range(1, var.shards + 1) : [
      for node in range(1, var.replicas_per_shard + 2) : format("%s-%04d-%03d", var.name, shard, node)
    ]
  ])
}

resource "aws_elasticache_subnet_group" "this" {
  name        = var.name
  description = "Private subnets of ${var.name} Valkey"
  subnet_ids  = var.subnet_ids
  tags        = var.tags
}

resource "aws_security_group" "this" {
  name        = "${var.name}-valkey"
  description = "Valkey: TLS from the lookup service and the EMR jobs only"
  vpc_id      = var.vpc_id
  tags        = var.tags

  ingress {
    description     = "Valkey from its clients"
    from_port       = local.port
    to_port         = local.port
    protocol        = "tcp"
    security_groups = var.client_security_group_ids
  }

  egress {
    description = "Replication and cluster bus between the nodes"
    from_port   = 0
    to_port     = 65535
    protocol    = "tcp"
    self        = true
  }
}

resource "aws_elasticache_parameter_group" "this" {
  name        = "${var.name}-graph"
  family      = var.parameter_group_family
  description = "idgraph: cluster mode, listpack hash buckets, no eviction"
  tags        = var.tags

  parameter {
    name  = "cluster-enabled"
    value = "yes"
  }

  # Hash buckets stay in compact listpack encoding only while every bucket is below these.
  parameter {
    name  = "hash-max-listpack-entries"
    value = tostring(var.hash_max_listpack_entries)
  }

  parameter {
    name  = "hash-max-listpack-value"
    value = tostring(var.hash_max_listpack_value)
  }

  # Evicting a bucket would silently turn known cookies into 404s; fail writes loudly instead
  # (the memory alarm fires well before).
  parameter {
    name  = "maxmemory-policy"
    value = "noeviction"
  }
}

resource "random_password" "auth" {
  length  = 64
  special = false # ElastiCache AUTH tokens forbid several symbols; 64 alphanumerics suffice
}

resource "aws_secretsmanager_secret" "auth_token" {
  #checkov:skip=CKV2_AWS_57:ElastiCache AUTH rotation is a two-phase ROTATE/SET change applied through Terraform (docs/operations.md), not a Lambda rotation.
  name        = "${var.name}/valkey-auth-token"
  description = "AUTH token of ${var.name} Valkey"
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

resource "aws_secretsmanager_secret_version" "auth_token" {
  secret_id     = aws_secretsmanager_secret.auth_token.id
  secret_string = random_password.auth.result
}

resource "aws_cloudwatch_log_group" "slow_log" {
  name              = "/idgraph/${var.name}/valkey-slow-log"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
  tags              = var.tags
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "idgraph identity graph (cluster mode)"
  engine                     = "valkey"
  engine_version             = var.engine_version
  node_type                  = var.node_type
  port                       = local.port
  parameter_group_name       = aws_elasticache_parameter_group.this.name
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.this.id]
  cluster_mode               = "enabled"
  num_node_groups            = var.shards
  replicas_per_node_group    = var.replicas_per_shard
  automatic_failover_enabled = true
  multi_az_enabled           = true
  at_rest_encryption_enabled = true
  kms_key_id                 = var.kms_key_arn
  transit_encryption_enabled = true
  transit_encryption_mode    = "required"
  auth_token                 = aws_secretsmanager_secret_version.auth_token.secret_string
  auth_token_update_strategy = "ROTATE"
  snapshot_retention_limit   = var.snapshot_retention_days
  snapshot_window            = "03:00-04:00"
  maintenance_window         = "sun:04:30-sun:05:30"
  auto_minor_version_upgrade = true
  apply_immediately          = false
  tags                       = var.tags

  log_delivery_configuration {
    destination      = aws_cloudwatch_log_group.slow_log.name
    destination_type = "cloudwatch-logs"
    log_format       = "json"
    log_type         = "slow-log"
  }
}

# What the service and the publish stage read: one URL with TLS, token and cluster endpoint.
resource "aws_secretsmanager_secret" "url" {
  #checkov:skip=CKV2_AWS_57:Derived from the AUTH token; rewritten by Terraform whenever the token rotates.
  name        = "${var.name}/valkey-url"
  description = "rediss:// URL (with AUTH token) of ${var.name} Valkey, for IDGRAPH_REDIS_URL"
  kms_key_id  = var.kms_key_arn
  tags        = var.tags
}

resource "aws_secretsmanager_secret_version" "url" {
  secret_id     = aws_secretsmanager_secret.url.id
  secret_string = "rediss://:${random_password.auth.result}@${aws_elasticache_replication_group.this.configuration_endpoint_address}:${local.port}"
}
