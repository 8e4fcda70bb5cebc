# Development environment on real AWS: the whole stack (modules/stack) with its remote state in S3.

provider "aws" {
  region = var.region

  default_tags {
    tags = {
      Project     = "smmu"
      Environment = var.environment_name
      ManagedBy   = "terraform"
    }
  }
}

data "aws_caller_identity" "current" {}

module "stack" {
  source = "../../modules/stack"

  bucket_name_suffix   = coalesce(var.bucket_name_suffix, "-${data.aws_caller_identity.current.account_id}")
  functions_zip_path   = var.functions_zip_path
  image_tag            = var.image_tag
  egress_mode          = var.egress_mode
  certificate_arn      = var.certificate_arn
  allow_plain_http     = var.allow_plain_http
  alb_ingress_cidrs    = var.alb_ingress_cidrs
  cors_allowed_origins = var.cors_allowed_origins
  waf_rate_limit       = var.waf_rate_limit
  oidc                 = var.oidc
  alarm_email          = var.alarm_email
  deletion_protection  = var.deletion_protection
  force_destroy        = var.force_destroy
}
