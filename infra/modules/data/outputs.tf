output "table_arns" {
  description = "Table ARN by manifest key."
  value       = { for key, table in aws_dynamodb_table.this : key => table.arn }
}

output "table_names" {
  description = "Table name by manifest key."
  value       = { for key, table in aws_dynamodb_table.this : key => table.name }
}
