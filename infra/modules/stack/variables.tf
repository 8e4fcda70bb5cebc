variable "manifest_path" {
  description = "The resource manifest; defaults to infra/resources.json."
  type        = string
  default     = null
}

variable "functions_zip_path" {
  description = "Lambda code package with its third-party packages (smmu package --with-dependencies); defaults to build/lambda/smmu-functions.zip."
  type        = string
  default     = null
}

variable "bucket_name_suffix" {
  description = "Appended to the manifest's bucket names (S3 names are global)."
  type        = string
  default     = ""
}

variable "enable_container_services" {
  description = "Create the network, ECR, ECS cluster, the API behind an ALB and the workers (false on LocalStack)."
  type        = bool
  default     = true
}

variable "egress_mode" {
  description = "\"nat_gateway\" or \"vpc_endpoints\": how private tasks reach AWS APIs (see the networking module and docs/deploy.md)."
  type        = string
  default     = "nat_gateway"
}

variable "single_nat_gateway" {
  description = "One NAT gateway for both AZs instead of one per AZ."
  type        = bool
  default     = true
}

variable "vpc_cidr_block" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "image_tag" {
  description = "Tag of the service and worker images to run."
  type        = string
  default     = "latest"
}

variable "certificate_arn" {
  description = "ACM certificate for HTTPS on the load balancer (HTTP redirects to it). Required unless allow_plain_http is set."
  type        = string
  default     = null
}

variable "allow_plain_http" {
  description = "Development only: serve the API over plain HTTP when no certificate is given."
  type        = bool
  default     = false
}

variable "alb_ingress_cidrs" {
  description = "Networks allowed to reach the load balancer; none by default."
  type        = list(string)
  default     = []
}

variable "cors_allowed_origins" {
  description = "Browser origins allowed to call the API and use its presigned URLs; none by default (no \"*\")."
  type        = list(string)
  default     = []
}

variable "waf_rate_limit" {
  description = "Requests per 5 minutes from one address before the optional WAF blocks it; null for no WAF."
  type        = number
  default     = null
}

variable "oidc" {
  description = "OIDC/JWT bearer tokens for the API (e.g. a Cognito user pool): its JWKS URL, issuer, audience and the claim naming the tenant. null: API keys only."
  type = object({
    jwks_url     = string
    issuer       = string
    audience     = optional(string)
    tenant_claim = optional(string, "tenant_id")
  })
  default = null
}

variable "alarm_email" {
  description = "Address subscribed to the alarm topic (confirm the subscription e-mail); null for none."
  type        = string
  default     = null
}

variable "log_retention_days" {
  description = "Days function, task, execution and flow logs are kept."
  type        = number
  default     = 365
}

variable "deletion_protection" {
  description = "Protect tables and the load balancer from deletion."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets and repositories (dev and test only)."
  type        = bool
  default     = false
}
