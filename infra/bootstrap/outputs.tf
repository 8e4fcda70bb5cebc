output "state_bucket" {
  description = "The state bucket."
  value       = aws_s3_bucket.state.id
}

output "lock_table" {
  description = "The lock table."
  value       = aws_dynamodb_table.lock.name
}

output "kms_key_arn" {
  description = "The key encrypting the state."
  value       = aws_kms_key.state.arn
}

output "backend_config" {
  description = "Partial backend configuration for the environments: write it to infra/envs/<env>/backend.hcl."
  value       = <<-EOT
    bucket         = "${aws_s3_bucket.state.id}"
    region         = "${var.region}"
    dynamodb_table = "${aws_dynamodb_table.lock.name}"
    kms_key_id     = "${aws_kms_key.state.arn}"
  EOT
}

output "deploy_role_arns" {
  description = "Role ARNs for the deploy workflow (repository variables AWS_PLAN_ROLE_ARN and AWS_APPLY_ROLE_ARN)."
  value       = { for key, role in aws_iam_role.deploy : key => role.arn }
}
