output "api_url" {
  description = "The API's public URL (null without container services)."
  value       = module.compute.api_url
}

output "environment" {
  description = "The environment every function, service and worker gets (the manifest's, resolved)."
  value       = local.environment
}

output "bucket_names" {
  description = "Bucket name by manifest key."
  value       = module.storage.bucket_names
}

output "table_names" {
  description = "Table name by manifest key."
  value       = module.data.table_names
}

output "queue_urls" {
  description = "Queue URL by manifest key."
  value       = module.messaging.queue_urls
}

output "function_arns" {
  description = "Function ARN by manifest key."
  value       = module.compute.function_arns
}

output "state_machine_arns" {
  description = "State machine ARN by manifest key."
  value       = module.orchestration.state_machine_arns
}

output "repository_urls" {
  description = "ECR repository URL by image name."
  value       = module.compute.repository_urls
}

output "cluster_name" {
  description = "The ECS cluster (null without container services)."
  value       = module.compute.cluster_name
}

output "alarm_topic_arn" {
  description = "SNS topic the alarms notify."
  value       = aws_sns_topic.alarms.arn
}
