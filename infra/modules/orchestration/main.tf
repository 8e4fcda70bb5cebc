# State machines from the manifest's `state_machines` map: the ASL file rendered with templatefile(), every
# `${Placeholder}` supplied from the manifest's function_placeholders (function ARNs) and, for task-token workers,
# queue_placeholders (queue URLs) - as smmu_stack/manifest.py Manifest.definition() does for the local stack.
# Execution history goes to a log group, X-Ray traces every execution, and failed executions raise an alarm.

data "aws_caller_identity" "current" {}

locals {
  machines = var.manifest.state_machines

  template_vars = {
    for key, machine in local.machines : key => merge(
      { for placeholder, function in machine.function_placeholders : placeholder => var.function_arns[function] },
      { for placeholder, queue in try(machine.queue_placeholders, {}) : placeholder => var.queue_urls[queue] },
    )
  }
  invoked_functions = {
    for key, machine in local.machines : key => distinct([for function in values(machine.function_placeholders) : var.function_arns[function]])
  }
  task_queues = {
    for key, machine in local.machines : key => distinct(concat(
      [for queue in values(try(machine.queue_placeholders, {})) : var.queue_arns[queue]],
      var.worker_queue_arns,
    ))
  }
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]
}

resource "aws_cloudwatch_log_group" "machine" {
  #checkov:skip=CKV_AWS_158:Log groups use CloudWatch Logs' default encryption at rest; a customer managed key adds a key policy and cost for no extra protection here.
  for_each = local.machines

  # The /aws/vendedlogs/ prefix keeps the log resource policy Step Functions needs small.
  name              = "/aws/vendedlogs/states/${each.value.name}"
  retention_in_days = var.log_retention_days
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["states.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "machine" {
  for_each = local.machines

  name               = "${each.value.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "machine" {
  for_each = local.machines

  statement {
    sid       = "InvokeSteps"
    actions   = ["lambda:InvokeFunction"]
    resources = local.invoked_functions[each.key]
  }

  dynamic "statement" {
    for_each = length(local.task_queues[each.key]) > 0 ? [local.task_queues[each.key]] : []
    content {
      sid       = "SendTaskTokens"
      actions   = ["sqs:SendMessage"]
      resources = statement.value
    }
  }

  # CloudWatch Logs log delivery (vended logs) does not support resource-level permissions: AWS requires "*".
  statement {
    sid = "DeliverExecutionLogs"
    actions = [
      "logs:CreateLogDelivery",
      "logs:GetLogDelivery",
      "logs:UpdateLogDelivery",
      "logs:DeleteLogDelivery",
      "logs:ListLogDeliveries",
      "logs:PutResourcePolicy",
      "logs:DescribeResourcePolicies",
      "logs:DescribeLogGroups",
    ]
    resources = ["*"]
  }

  # X-Ray's write actions do not support resource-level permissions: AWS requires "*".
  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "xray:GetSamplingRules", "xray:GetSamplingTargets"]
    resources = ["*"]
  }
}

resource "aws_iam_role_policy" "machine" {
  for_each = local.machines

  name   = "least-privilege"
  role   = aws_iam_role.machine[each.key].id
  policy = data.aws_iam_policy_document.machine[each.key].json
}

resource "aws_sfn_state_machine" "this" {
  for_each = local.machines

  name       = each.value.name
  type       = each.value.type
  role_arn   = aws_iam_role.machine[each.key].arn
  definition = templatefile("${var.repo_root}/${each.value.definition}", local.template_vars[each.key])

  logging_configuration {
    log_destination        = "${aws_cloudwatch_log_group.machine[each.key].arn}:*"
    include_execution_data = true
    level                  = var.log_level
  }

  tracing_configuration {
    enabled = true
  }

  depends_on = [aws_iam_role_policy.machine]
}

resource "aws_cloudwatch_metric_alarm" "executions_failed" {
  for_each = local.machines

  alarm_name          = "${each.value.name}-executions-failed"
  alarm_description   = "Executions of ${each.value.name} fail more often than rejected uploads explain: look at the failed executions' history."
  namespace           = "AWS/States"
  metric_name         = "ExecutionsFailed"
  dimensions          = { StateMachineArn = aws_sfn_state_machine.this[each.key].arn }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.failed_executions_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions
}
