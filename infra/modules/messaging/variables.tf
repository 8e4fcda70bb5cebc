variable "manifest" {
  description = "The decoded resource manifest (infra/resources.json)."
  type        = any
}

variable "alarm_topic_arn" {
  description = "SNS topic that alarms notify; null for alarms without actions."
  type        = string
  default     = null
}

variable "dlq_depth_alarm_threshold" {
  description = "Messages waiting in a dead-letter queue that raise its alarm."
  type        = number
  default     = 1
}

variable "oldest_message_alarm_seconds" {
  description = "Age of the oldest message in a work queue that raises its alarm."
  type        = number
  default     = 900
}

variable "log_retention_days" {
  description = "Days the example rule's log group keeps job events."
  type        = number
  default     = 30
}
