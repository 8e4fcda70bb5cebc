variable "manifest" {
  description = "The decoded resource manifest (infra/resources.json)."
  type        = any
}

variable "repo_root" {
  description = "Repository root: the manifest's `definition` paths are relative to it."
  type        = string
}

variable "function_arns" {
  description = "Function ARN by manifest key, for the definitions' function placeholders."
  type        = map(string)
}

variable "queue_urls" {
  description = "Queue URL by manifest key, for the definitions' queue placeholders (task-token workers)."
  type        = map(string)
}

variable "queue_arns" {
  description = "Queue ARN by manifest key."
  type        = map(string)
}

variable "worker_queue_arns" {
  description = "Queues the state machines send task tokens to (the workers' queues)."
  type        = list(string)
  default     = []
}

variable "log_level" {
  description = "Execution history logged to CloudWatch Logs: ALL, ERROR or FATAL."
  type        = string
  default     = "ALL"
}

variable "log_retention_days" {
  description = "Days execution logs are kept."
  type        = number
  default     = 365
}

variable "failed_executions_alarm_threshold" {
  description = "Failed executions in 5 minutes that raise the alarm. A rejected upload fails its execution by design (JobFailed), so this is a rate, not a single failure."
  type        = number
  default     = 5
}

variable "alarm_topic_arn" {
  description = "SNS topic that alarms notify; null for alarms without actions."
  type        = string
  default     = null
}
