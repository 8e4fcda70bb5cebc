output "environment" {
  description = "The resolved environment, for `smmu dev`/the API against LocalStack."
  value       = module.stack.environment
}

output "state_machine_arns" {
  description = "State machine ARN by manifest key."
  value       = module.stack.state_machine_arns
}

output "queue_urls" {
  description = "Queue URL by manifest key."
  value       = module.stack.queue_urls
}
