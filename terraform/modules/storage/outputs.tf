output "bucket_names" {
  description = "Bucket name per purpose: raw, lake, models, logs, artifacts, access_logs."
  value = {
    raw         = module.raw.id
    lake        = module.lake.id
    models      = module.models.id
    logs        = module.logs.id
    artifacts   = module.artifacts.id
    access_logs = aws_s3_bucket.access_logs.id
  }
}

output "bucket_arns" {
  description = "Bucket ARN per purpose: raw, lake, models, logs, artifacts."
  value = {
    raw       = module.raw.arn
    lake      = module.lake.arn
    models    = module.models.arn
    logs      = module.logs.arn
    artifacts = module.artifacts.arn
  }
}
