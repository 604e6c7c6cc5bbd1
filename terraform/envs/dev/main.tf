provider "aws" {
  region = var.region

  # Every resource carries these, on top of each module's own tags.
  default_tags {
    tags = local.tags
  }
}

locals {
  name = "idgraph-${var.environment}"
  tags = {
    project     = "idgraph"
    environment = var.environment
    managed_by  = "terraform"
    repository  = var.github_repository
  }

  # The graph job's health metrics (GraphDegraded, ...): the job role may put metrics only
  # here, and the graph-degraded alarm watches it.
  graph_metrics_namespace = "idgraph/graph"
}

module "kms" {
  source = "../../modules/kms"

  name = local.name
  tags = local.tags
}

module "network" {
  source = "../../modules/network"

  name               = local.name
  tags               = local.tags
  cidr_block         = var.vpc_cidr_block
  availability_zones = var.availability_zones
  kms_key_arn        = module.kms.key_arn
}

module "storage" {
  source = "../../modules/storage"

  name               = local.name
  tags               = local.tags
  kms_key_arn        = module.kms.key_arn
  raw_retention_days = var.raw_retention_days
}

module "emr" {
  source = "../../modules/emr_serverless"

  name                  = local.name
  tags                  = local.tags
  release_label         = var.emr_release_label
  image_uri             = var.emr_image_uri
  vpc_id                = module.network.vpc_id
  vpc_cidr_block        = module.network.vpc_cidr_block
  subnet_ids            = module.network.private_subnet_ids
  s3_prefix_list_id     = module.network.s3_endpoint_prefix_list_id
  max_vcpu              = var.emr_max_vcpu
  max_memory_gb         = var.emr_max_memory_gb
  bucket_arns           = module.storage.bucket_arns
  logs_bucket_name      = module.storage.bucket_names.logs
  artifacts_bucket_name = module.storage.bucket_names.artifacts
  kms_key_arn           = module.kms.key_arn
  redis_url_secret_arn  = module.redis.url_secret_arn
  metrics_namespace     = local.graph_metrics_namespace
}

module "redis" {
  source = "../../modules/redis"

  name                      = local.name
  tags                      = local.tags
  node_type                 = var.valkey_node_type
  shards                    = var.valkey_shards
  replicas_per_shard        = var.valkey_replicas_per_shard
  vpc_id                    = module.network.vpc_id
  subnet_ids                = module.network.private_subnet_ids
  client_security_group_ids = [module.lookup.tasks_security_group_id, module.emr.security_group_id]
  kms_key_arn               = module.kms.key_arn
}

module "lookup" {
  source = "../../modules/lookup_service"

  name                 = local.name
  tags                 = local.tags
  vpc_id               = module.network.vpc_id
  vpc_cidr_block       = module.network.vpc_cidr_block
  subnet_ids           = module.network.private_subnet_ids
  s3_prefix_list_id    = module.network.s3_endpoint_prefix_list_id
  allowed_cidr_blocks  = var.allowed_cidr_blocks
  certificate_arn      = var.alb_certificate_arn
  access_log_bucket    = module.storage.bucket_names.access_logs
  kms_key_arn          = module.kms.key_arn
  redis_url_secret_arn = module.redis.url_secret_arn
  min_tasks            = var.lookup_min_tasks
  max_tasks            = var.lookup_max_tasks
}

module "monitoring" {
  source = "../../modules/monitoring"

  name                     = local.name
  tags                     = local.tags
  kms_key_arn              = module.kms.key_arn
  alarm_emails             = var.alarm_emails
  alb_arn_suffix           = module.lookup.alb_arn_suffix
  target_group_arn_suffix  = module.lookup.target_group_arn_suffix
  redis_member_cluster_ids = module.redis.member_cluster_ids
  emr_application_id       = module.emr.application_id
  graph_metrics_namespace  = local.graph_metrics_namespace
}

module "ci_roles" {
  source = "../../modules/ci_roles"

  name                 = local.name
  tags                 = local.tags
  github_repository    = var.github_repository
  github_environment   = var.environment
  oidc_provider_arn    = var.github_oidc_provider_arn
  artifacts_bucket_arn = module.storage.bucket_arns.artifacts
  logs_bucket_arn      = module.storage.bucket_arns.logs
  kms_key_arn          = module.kms.key_arn
  emr_application_arn  = module.emr.application_arn
  emr_job_role_arn     = module.emr.job_role_arn
  ecr_repository_arn   = module.lookup.ecr_repository_arn
  ecs_cluster_name     = module.lookup.cluster_name
  ecs_service_name     = module.lookup.service_name
  ecs_task_role_arns   = [module.lookup.execution_role_arn, module.lookup.task_role_arn]
}
