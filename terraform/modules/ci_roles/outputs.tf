output "jobs_role_arn" {
  description = "Role daily.yml and weekly-train.yml assume (secret AWS_JOBS_ROLE_ARN)."
  value       = aws_iam_role.jobs.arn
}

output "deploy_role_arn" {
  description = "Role deploy-service.yml assumes (secret AWS_DEPLOY_ROLE_ARN)."
  value       = aws_iam_role.deploy.arn
}
