variable "endpoint" {
  description = "LocalStack's edge endpoint."
  type        = string
  default     = "http://localhost:4566"
}

variable "dependency_layer" {
  description = "Deploy the Lambda dependency layer: LocalStack Pro supports layers, the free edition does not (its functions then lack third-party packages)."
  type        = bool
  default     = false
}

variable "region" {
  description = "Region LocalStack emulates."
  type        = string
  default     = "us-east-1"
}
