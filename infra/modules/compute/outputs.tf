output "function_arns" {
  description = "Function ARN by manifest key."
  value       = { for key, function in aws_lambda_function.this : key => function.arn }
}

output "function_role_arns" {
  description = "Function role ARN by manifest key."
  value       = { for key, role in aws_iam_role.function : key => role.arn }
}

output "repository_urls" {
  description = "ECR repository URL by image name (push images here, tagged with image_tag)."
  value       = { for image, repository in aws_ecr_repository.this : image => repository.repository_url }
}

output "cluster_name" {
  description = "The ECS cluster (null without container services)."
  value       = try(aws_ecs_cluster.this[0].name, null)
}

output "api_url" {
  description = "The API's public URL (null without container services)."
  value       = try("${var.certificate_arn == null ? "http" : "https"}://${aws_lb.api[0].dns_name}", null)
}

output "worker_queue_arns" {
  description = "Queue ARN each worker consumes, by worker key."
  value       = { for key, worker in local.workers : key => var.queue_arns[worker.queue] }
}
