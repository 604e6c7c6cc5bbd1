output "ecr_repository_url" {
  description = "ECR repository of the lookup-service image."
  value       = aws_ecr_repository.this.repository_url
}

output "cluster_name" {
  description = "ECS cluster name."
  value       = aws_ecs_cluster.this.name
}

output "service_name" {
  description = "ECS service name."
  value       = aws_ecs_service.this.name
}

output "task_family" {
  description = "Task definition family (deploy-service.yml registers new revisions)."
  value       = aws_ecs_task_definition.this.family
}

output "container_name" {
  description = "Container name inside the task definition."
  value       = local.container
}

output "alb_dns_name" {
  description = "DNS name of the internal ALB."
  value       = aws_lb.this.dns_name
}

output "alb_arn_suffix" {
  description = "ALB ARN suffix (CloudWatch dimension)."
  value       = aws_lb.this.arn_suffix
}

output "target_group_arn_suffix" {
  description = "Target group ARN suffix (CloudWatch dimension)."
  value       = aws_lb_target_group.this.arn_suffix
}

output "tasks_security_group_id" {
  description = "Security group of the tasks (allowed into Valkey)."
  value       = aws_security_group.tasks.id
}

output "api_keys_secret_arn" {
  description = "Secret holding the comma-separated API keys."
  value       = aws_secretsmanager_secret.api_keys.arn
}

output "execution_role_arn" {
  description = "Task execution role (deploy-service.yml passes it when registering revisions)."
  value       = aws_iam_role.execution.arn
}

output "task_role_arn" {
  description = "Task role."
  value       = aws_iam_role.task.arn
}

output "ecr_repository_arn" {
  description = "ARN of the ECR repository (deploy role pushes here)."
  value       = aws_ecr_repository.this.arn
}
