output "api_url" {
  description = "The API's public URL."
  value       = module.stack.api_url
}

output "repository_urls" {
  description = "ECR repository URL by image name."
  value       = module.stack.repository_urls
}

output "cluster_name" {
  description = "The ECS cluster."
  value       = module.stack.cluster_name
}

output "environment" {
  description = "The resolved environment of functions and tasks."
  value       = module.stack.environment
}

output "state_machine_arns" {
  description = "State machine ARN by manifest key."
  value       = module.stack.state_machine_arns
}

output "bucket_names" {
  description = "Bucket name by manifest key."
  value       = module.stack.bucket_names
}
