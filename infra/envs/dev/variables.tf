variable "region" {
  description = "AWS region of the stack."
  type        = string
  default     = "us-east-1"
}

variable "environment_name" {
  description = "Tag value naming this environment."
  type        = string
  default     = "dev"
}

variable "bucket_name_suffix" {
  description = "Appended to the manifest's bucket names (S3 names are global); null uses \"-<account id>\"."
  type        = string
  default     = null
}

variable "functions_zip_path" {
  description = "Lambda code package with its third-party packages (smmu package --with-dependencies); null uses build/lambda/smmu-functions.zip."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "Tag of the service and worker images to run (the deploy workflow passes the commit SHA)."
  type        = string
  default     = "latest"
}

variable "egress_mode" {
  description = "\"nat_gateway\" or \"vpc_endpoints\" (see docs/deploy.md for the cost trade-off)."
  type        = string
  default     = "nat_gateway"
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
  description = "Address subscribed to the alarm topic; null for none."
  type        = string
  default     = null
}

variable "deletion_protection" {
  description = "Protect tables and the load balancer from deletion (set false before terraform destroy)."
  type        = bool
  default     = true
}

variable "force_destroy" {
  description = "Let terraform destroy delete non-empty buckets and repositories."
  type        = bool
  default     = false
}
