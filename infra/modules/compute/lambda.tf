# -- Lambda functions, from the manifest's `functions` map ---------------------------------------------------------

resource "aws_cloudwatch_log_group" "function" {
  #checkov:skip=CKV_AWS_158:Log groups use CloudWatch Logs' default encryption at rest; a customer managed key adds a key policy and cost for no extra protection here.
  for_each = local.functions

  name              = "/aws/lambda/${each.value.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_lambda_function" "this" {
  #checkov:skip=CKV_AWS_115:No reserved concurrency: new accounts have too little unreserved concurrency to set some aside; the SQS event source mapping caps the dispatcher (maximum_concurrency) and Step Functions retries throttled steps.
  #checkov:skip=CKV_AWS_116:No function DLQ: a Lambda DLQ only applies to asynchronous invocations. The dispatcher's failures go to the jobs queue's DLQ (redrive policy) and step failures are caught by the state machine.
  #checkov:skip=CKV_AWS_117:Functions run outside the VPC: they call only AWS APIs (S3, DynamoDB, Step Functions) over TLS with IAM, so a VPC would add ENIs and NAT/endpoint cost without isolating anything.
  #checkov:skip=CKV_AWS_173:The environment holds only resource names and log settings, encrypted at rest with the Lambda service key; no secrets are passed through it.
  #checkov:skip=CKV_AWS_272:Code signing is not used: the package is built and deployed by the same CI job from the reviewed commit.
  for_each = local.functions

  function_name    = each.value.name
  role             = aws_iam_role.function[each.key].arn
  handler          = each.value.handler
  runtime          = local.lambda_package.runtime
  architectures    = [local.lambda_package.architecture]
  memory_size      = each.value.memory_mb
  timeout          = each.value.timeout_seconds
  filename         = var.functions_zip_path
  source_code_hash = filebase64sha256(var.functions_zip_path)

  environment {
    variables = var.environment
  }

  tracing_config {
    mode = "Active"
  }

  depends_on = [aws_cloudwatch_log_group.function, aws_iam_role_policy.function]
}

resource "aws_lambda_event_source_mapping" "this" {
  for_each = local.event_sources

  function_name                      = aws_lambda_function.this[each.key].arn
  event_source_arn                   = var.queue_arns[each.value.queue]
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = each.value.maximum_batching_window_seconds
  function_response_types            = each.value.report_batch_item_failures ? ["ReportBatchItemFailures"] : []
  enabled                            = true

  scaling_config {
    maximum_concurrency = var.event_source_max_concurrency
  }

  lifecycle {
    precondition {
      # Lambda refuses a mapping whose queue hides a message for less time than the function may run.
      condition     = local.manifest.queues[each.value.queue].visibility_timeout_seconds >= local.functions[each.key].timeout_seconds
      error_message = "The queue's visibility_timeout_seconds must be at least the function's timeout_seconds."
    }
  }
}

# -- schedules (EventBridge rules) for functions the manifest gives a `schedule` -------------------------------------
resource "aws_cloudwatch_event_rule" "schedule" {
  for_each = local.schedules

  name                = "${local.functions[each.key].name}-schedule"
  description         = "Runs ${local.functions[each.key].name} on its manifest schedule"
  schedule_expression = each.value
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = local.schedules

  rule      = aws_cloudwatch_event_rule.schedule[each.key].name
  target_id = "function"
  arn       = aws_lambda_function.this[each.key].arn
}

resource "aws_lambda_permission" "schedule" {
  for_each = local.schedules

  statement_id  = "AllowScheduleInvoke"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.this[each.key].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}
