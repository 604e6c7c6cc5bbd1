output "state_bucket" {
  description = "Pass to terraform init: -backend-config=\"bucket=<this>\" (secret TF_STATE_BUCKET)."
  value       = aws_s3_bucket.state.id
}

output "lock_table" {
  description = "DynamoDB lock table named in the environments' backend blocks."
  value       = aws_dynamodb_table.locks.name
}

output "github_oidc_provider_arn" {
  description = "github_oidc_provider_arn of the environments."
  value       = aws_iam_openid_connect_provider.github.arn
}

output "plan_role_arn" {
  description = "AWS_PLAN_ROLE_ARN for terraform.yml."
  value       = aws_iam_role.plan.arn
}

output "apply_role_arn" {
  description = "AWS_APPLY_ROLE_ARN for terraform.yml."
  value       = aws_iam_role.apply.arn
}
