variable "region" {
  description = "Region of the state bucket and lock table."
  type        = string
  default     = "us-east-1"
}

variable "project" {
  description = "Name prefix."
  type        = string
  default     = "smmu"
}

variable "state_bucket_name" {
  description = "Name of the state bucket; null uses \"<project>-tfstate-<account id>-<region>\"."
  type        = string
  default     = null
}

variable "lock_table_name" {
  description = "Name of the DynamoDB lock table."
  type        = string
  default     = "smmu-terraform-locks"
}

variable "noncurrent_state_days" {
  description = "Days old state versions are kept."
  type        = number
  default     = 90
}

variable "github_repository" {
  description = "\"owner/name\" of the GitHub repository whose workflows may assume the deploy roles (OIDC); \"\" creates no roles."
  type        = string
  default     = ""
}

variable "create_github_oidc_provider" {
  description = "Create the account's GitHub OIDC identity provider (false when the account already has one)."
  type        = bool
  default     = true
}

variable "deploy_branch" {
  description = "Branch whose workflow runs may assume the apply role."
  type        = string
  default     = "main"
}

variable "apply_role_policy_arns" {
  description = "Managed policies attached to the apply role, which creates the whole stack (VPC, IAM roles, ECS, Lambda, ...). Choose them for your account; see docs/deploy.md."
  type        = list(string)
  default     = []
}
