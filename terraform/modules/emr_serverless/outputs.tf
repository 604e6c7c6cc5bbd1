output "application_id" {
  description = "EMR Serverless application id (IDGRAPH_AWS_EMR_APPLICATION_ID)."
  value       = aws_emrserverless_application.this.id
}

output "application_arn" {
  description = "EMR Serverless application ARN."
  value       = aws_emrserverless_application.this.arn
}

output "job_role_arn" {
  description = "Runtime role of the jobs (IDGRAPH_AWS_EMR_EXECUTION_ROLE_ARN)."
  value       = aws_iam_role.job.arn
}

output "security_group_id" {
  description = "Security group of the job workers (allowed into Valkey)."
  value       = aws_security_group.jobs.id
}

output "ip_hash_key_secret_arn" {
  description = "Secret holding the ETL's IP hash key (IDGRAPH_ETL_IP_HASH_KEY_SECRET_ARN); its value is put out of band."
  value       = aws_secretsmanager_secret.ip_hash_key.arn
}
