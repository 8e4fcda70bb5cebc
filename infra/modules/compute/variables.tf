variable "manifest" {
  description = "The decoded resource manifest (infra/resources.json)."
  type        = any
}

variable "environment" {
  description = "Environment every function, service and worker gets: the manifest's `environment` with its references resolved."
  type        = map(string)
}

variable "bucket_arns" {
  description = "Bucket ARN by manifest key."
  type        = map(string)
}

variable "table_arns" {
  description = "Table ARN by manifest key."
  type        = map(string)
}

variable "queue_arns" {
  description = "Queue ARN by manifest key."
  type        = map(string)
}

variable "queue_urls" {
  description = "Queue URL by manifest key."
  type        = map(string)
}

variable "event_bus_arns" {
  description = "Event bus ARN by manifest key (job status changes are put on them)."
  type        = map(string)
}

variable "state_machine_arns" {
  description = "State machine ARN by manifest key (built from the manifest's names, so functions need not wait for the machines)."
  type        = map(string)
}

variable "functions_zip_path" {
  description = "The Lambda code package built by `smmu package --with-dependencies` (one zip for every function, its third-party packages inside: no layer, so LocalStack's free edition runs the same package)."
  type        = string
}

variable "upload_prefix" {
  description = "Key prefix of uploads in the raw bucket (smmu/keys.py UPLOAD_PREFIX)."
  type        = string
  default     = "uploads/"
}

variable "output_prefix" {
  description = "Key prefix of outputs in the processed bucket (smmu/keys.py OUTPUT_PREFIX)."
  type        = string
  default     = "jobs/"
}

variable "log_retention_days" {
  description = "Days function, service and worker logs are kept."
  type        = number
  default     = 365
}

variable "event_source_max_concurrency" {
  description = "Most concurrent invocations an SQS event source mapping drives (2-1000)."
  type        = number
  default     = 10
}

variable "enable_container_services" {
  description = "Create the ECR repositories, the ECS cluster, the API service behind its load balancer and the workers (false on LocalStack, whose free edition has no ECS)."
  type        = bool
  default     = true
}

variable "vpc_id" {
  description = "VPC for the load balancer and the Fargate tasks (required with enable_container_services)."
  type        = string
  default     = null
}

variable "public_subnet_ids" {
  description = "Subnets for the load balancer."
  type        = list(string)
  default     = []
}

variable "private_subnet_ids" {
  description = "Subnets for the Fargate tasks."
  type        = list(string)
  default     = []
}

variable "image_tag" {
  description = "Tag of the images (in the ECR repositories named after the manifest's images) that the tasks run; the deploy workflow uses the commit SHA."
  type        = string
  default     = "latest"
}

variable "public_service" {
  description = "The manifest service the load balancer forwards to."
  type        = string
  default     = "api"
}

variable "certificate_arn" {
  description = "ACM certificate for the HTTPS listener (HTTP then redirects to HTTPS). Required unless allow_plain_http is set."
  type        = string
  default     = null
}

variable "allow_plain_http" {
  description = "Development only: without a certificate, serve the API over plain HTTP on port 80. Credentials then cross the network in clear text."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "Networks allowed to reach the load balancer (none by default: name them, e.g. an office range or [\"0.0.0.0/0\"] for the internet)."
  type        = list(string)
  default     = []
}

variable "waf_rate_limit" {
  description = "Attach a WAF web ACL to the load balancer that blocks a client address sending more than this many requests in 5 minutes (plus AWS's known-bad-inputs rules); null for no WAF."
  type        = number
  default     = null

  validation {
    condition     = var.waf_rate_limit == null || try(var.waf_rate_limit >= 100, false)
    error_message = "waf_rate_limit is at least 100 (AWS WAF's minimum) or null."
  }
}

variable "api_environment" {
  description = "Extra settings for the API service only (OIDC issuer, CORS origins, limits): SMMU_* name to value."
  type        = map(string)
  default     = {}
}

variable "deletion_protection" {
  description = "Protect the load balancer from deletion (turn off before a teardown)."
  type        = bool
  default     = true
}

variable "worker_backlog_per_task" {
  description = "Default target of queue messages per running worker task, for workers that do not set backlog_per_task."
  type        = number
  default     = 5
}

variable "ecr_keep_images" {
  description = "Images kept per repository; older ones expire."
  type        = number
  default     = 30
}

variable "force_delete_repositories" {
  description = "Let terraform destroy delete repositories that still hold images (dev and test environments only)."
  type        = bool
  default     = false
}

variable "alarm_topic_arn" {
  description = "SNS topic that alarms notify; null for alarms without actions."
  type        = string
  default     = null
}
