variable "name" {
  description = "Name prefix for the network's resources."
  type        = string
}

variable "cidr_block" {
  description = "The VPC's address range; split into /20 subnets."
  type        = string
  default     = "10.40.0.0/16"
}

variable "az_count" {
  description = "Availability zones to spread the public and private subnets over."
  type        = number
  default     = 2
}

variable "egress_mode" {
  description = <<-EOT
    How tasks in the private subnets reach AWS APIs and images:
    "nat_gateway"   - NAT gateway(s) to the internet (any destination; hourly + per-GB charge per gateway),
    "vpc_endpoints" - no internet egress: interface endpoints for SQS, ECR (api + dkr), CloudWatch Logs and
                      Step Functions (hourly charge per endpoint per AZ). See docs/deploy.md for the costs.
    Gateway endpoints for S3 and DynamoDB (free) are created in both modes.
  EOT
  type        = string
  default     = "nat_gateway"

  validation {
    condition     = contains(["nat_gateway", "vpc_endpoints"], var.egress_mode)
    error_message = "egress_mode must be \"nat_gateway\" or \"vpc_endpoints\"."
  }
}

variable "single_nat_gateway" {
  description = "One NAT gateway for all AZs (cheaper, one AZ's outage cuts egress) instead of one per AZ."
  type        = bool
  default     = true
}

variable "interface_endpoint_services" {
  description = "AWS services reached through interface endpoints when egress_mode is \"vpc_endpoints\"."
  type        = list(string)
  default     = ["sqs", "ecr.api", "ecr.dkr", "logs", "states"]
}

variable "flow_log_retention_days" {
  description = "Days VPC flow logs are kept."
  type        = number
  default     = 365
}
