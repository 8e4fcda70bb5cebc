output "state_machine_arns" {
  description = "State machine ARN by manifest key."
  value       = { for key, machine in aws_sfn_state_machine.this : key => machine.arn }
}

output "state_machine_role_arns" {
  description = "State machine execution role ARN by manifest key."
  value       = { for key, role in aws_iam_role.machine : key => role.arn }
}
