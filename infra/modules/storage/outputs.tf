output "bucket_names" {
  description = "Bucket name by manifest key."
  value       = { for key, bucket in aws_s3_bucket.this : key => bucket.id }
}

output "bucket_arns" {
  description = "Bucket ARN by manifest key."
  value       = { for key, bucket in aws_s3_bucket.this : key => bucket.arn }
}
