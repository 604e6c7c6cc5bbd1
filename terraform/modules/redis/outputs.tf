output "replication_group_id" {
  description = "Replication group id."
  value       = aws_elasticache_replication_group.this.id
}

output "configuration_endpoint" {
  description = "Cluster-mode configuration endpoint (seed node for cluster clients)."
  value       = aws_elasticache_replication_group.this.configuration_endpoint_address
}

output "member_cluster_ids" {
  description = "Node (cache cluster) ids, one per shard member, for per-node alarms."
  value       = local.member_cluster_ids
}

output "url_secret_arn" {
  description = "Secret holding the full rediss:// URL (IDGRAPH_REDIS_URL)."
  value       = aws_secretsmanager_secret.url.arn
}

output "auth_token_secret_arn" {
  description = "Secret holding the AUTH token alone."
  value       = aws_secretsmanager_secret.auth_token.arn
}

output "security_group_id" {
  description = "Security group of the Valkey nodes."
  value       = aws_security_group.this.id
}
