output "queue_arns" {
  description = "Queue ARN by manifest key."
  value       = local.queue_arns
}

output "queue_urls" {
  description = "Queue URL by manifest key."
  value       = local.queue_urls
}

output "queue_names" {
  description = "Queue name by manifest key."
  value       = { for key, queue in local.queues : key => queue.name }
}

output "event_bus_arns" {
  description = "Event bus ARN by manifest key."
  value       = { for key, bus in aws_cloudwatch_event_bus.this : key => bus.arn }
}
