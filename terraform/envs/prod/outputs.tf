# The values CI needs, as repository/environment variables (docs/operations.md).
output "emr_application_id" {
  description = "IDGRAPH_AWS_EMR_APPLICATION_ID."
  value       = module.emr.application_id
}

output "emr_job_role_arn" {
  description = "IDGRAPH_AWS_EMR_EXECUTION_ROLE_ARN."
  value       = module.emr.job_role_arn
}

output "artifacts_uri" {
  description = "IDGRAPH_AWS_ARTIFACTS_URI."
  value       = "s3://${module.storage.bucket_names.artifacts}/code"
}

output "logs_uri" {
  description = "IDGRAPH_AWS_LOGS_URI."
  value       = "s3://${module.storage.bucket_names.logs}/emr"
}

output "lake_root" {
  description = "IDGRAPH_LAKE_ROOT."
  value       = "s3://${module.storage.bucket_names.lake}/lake"
}

output "raw_root" {
  description = "Where the pixel collector writes raw events (raw/pixel/dt=...)."
  value       = "s3://${module.storage.bucket_names.raw}/raw"
}

output "redis_url_secret_arn" {
  description = "IDGRAPH_AWS_REDIS_URL_SECRET_ID."
  value       = module.redis.url_secret_arn
}

output "ip_hash_key_secret_arn" {
  description = "IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN (GitHub var IP_HASH_KEY_SECRET_ARN); put the key into it out of band."
  value       = module.emr.ip_hash_key_secret_arn
}

output "graph_metrics_namespace" {
  description = "IDGRAPH_AWS_METRICS_NAMESPACE (GitHub var GRAPH_METRICS_NAMESPACE)."
  value       = local.graph_metrics_namespace
}

output "ecr_repository_url" {
  description = "ECR_REPOSITORY_URL for deploy-service.yml."
  value       = module.lookup.ecr_repository_url
}

output "ecs_cluster_name" {
  description = "ECS_CLUSTER for deploy-service.yml."
  value       = module.lookup.cluster_name
}

output "ecs_service_name" {
  description = "ECS_SERVICE for deploy-service.yml."
  value       = module.lookup.service_name
}

output "ecs_task_family" {
  description = "ECS_TASK_FAMILY for deploy-service.yml."
  value       = module.lookup.task_family
}

output "lookup_alb_dns_name" {
  description = "Internal DNS name of the lookup service."
  value       = module.lookup.alb_dns_name
}

output "api_keys_secret_arn" {
  description = "Secret to rotate API keys in."
  value       = module.lookup.api_keys_secret_arn
}

output "alarm_topic_arn" {
  description = "SNS topic of the alarms."
  value       = module.monitoring.alarm_topic_arn
}

output "jobs_role_arn" {
  description = "AWS_JOBS_ROLE_ARN for daily.yml and weekly-train.yml."
  value       = module.ci_roles.jobs_role_arn
}

output "deploy_role_arn" {
  description = "AWS_DEPLOY_ROLE_ARN for deploy-service.yml."
  value       = module.ci_roles.deploy_role_arn
}
