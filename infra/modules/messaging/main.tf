# Queues and dead-letter queues (and the job event buses, at the end), named and shaped by the manifest's `queues` map (as smmu_stack/provision.py).
# A queue with a `dead_letter_queue` redrives to that queue after `max_receive_count` receives, so queues without
# one are created first (`standalone`) and the others (`redriven`) reference them.

locals {
  queues     = var.manifest.queues
  standalone = { for key, queue in local.queues : key => queue if queue.dead_letter_queue == "" }
  redriven   = { for key, queue in local.queues : key => queue if queue.dead_letter_queue != "" }

  # Queues some other queue redrives to: their depth is the number of messages that failed for good.
  dead_letter_keys = toset([for queue in values(local.redriven) : queue.dead_letter_queue])
  work_keys        = toset([for key in keys(local.queues) : key if !contains(local.dead_letter_keys, key)])

  queue_arns = merge(
    { for key, queue in aws_sqs_queue.standalone : key => queue.arn },
    { for key, queue in aws_sqs_queue.redriven : key => queue.arn },
  )
  queue_urls = merge(
    { for key, queue in aws_sqs_queue.standalone : key => queue.url },
    { for key, queue in aws_sqs_queue.redriven : key => queue.url },
  )
  alarm_actions = var.alarm_topic_arn == null ? [] : [var.alarm_topic_arn]

  event_buses = try(var.manifest.event_buses, {})
}

resource "aws_sqs_queue" "standalone" {
  for_each = local.standalone

  name                       = each.value.name
  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  message_retention_seconds  = each.value.message_retention_seconds
  receive_wait_time_seconds  = each.value.receive_wait_time_seconds
  # SSE-SQS: S3 event notifications cannot be delivered to queues encrypted with the AWS managed aws/sqs key.
  sqs_managed_sse_enabled = true
}

resource "aws_sqs_queue" "redriven" {
  for_each = local.redriven

  name                       = each.value.name
  visibility_timeout_seconds = each.value.visibility_timeout_seconds
  message_retention_seconds  = each.value.message_retention_seconds
  receive_wait_time_seconds  = each.value.receive_wait_time_seconds
  sqs_managed_sse_enabled    = true

  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.standalone[each.value.dead_letter_queue].arn
    maxReceiveCount     = each.value.max_receive_count
  })

  lifecycle {
    precondition {
      condition     = each.value.max_receive_count > 0
      error_message = "A queue with a dead_letter_queue needs max_receive_count > 0."
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "dead_letter_depth" {
  for_each = local.dead_letter_keys

  alarm_name          = "${local.queues[each.key].name}-messages-visible"
  alarm_description   = "Messages in ${local.queues[each.key].name} failed every delivery attempt: inspect, fix, then redrive them."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = local.queues[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.dlq_depth_alarm_threshold
  comparison_operator = "GreaterThanOrEqualToThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  depends_on = [aws_sqs_queue.standalone]
}

resource "aws_cloudwatch_metric_alarm" "oldest_message_age" {
  for_each = local.work_keys

  alarm_name          = "${local.queues[each.key].name}-oldest-message-age"
  alarm_description   = "Messages wait in ${local.queues[each.key].name} longer than expected: its consumers are stuck or too few."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateAgeOfOldestMessage"
  dimensions          = { QueueName = local.queues[each.key].name }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 2
  threshold           = var.oldest_message_alarm_seconds
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = local.alarm_actions
  ok_actions          = local.alarm_actions

  depends_on = [aws_sqs_queue.standalone, aws_sqs_queue.redriven]
}

# -- job events ------------------------------------------------------------------------------------------------------
# The manifest's event buses: every job status change is put on them as a `smmu.job` event (source smmu.job,
# detail-type "Job Status Change", detail: job_id, tenant_id, status, attempt, input, outputs, error). Users add
# their own rules; the example rule below keeps every job's final status in a log group.
resource "aws_cloudwatch_event_bus" "this" {
  for_each = local.event_buses

  name = each.value.name
}

resource "aws_cloudwatch_log_group" "job_events" {
  #checkov:skip=CKV_AWS_158:Log groups use CloudWatch Logs' default encryption at rest; a customer managed key adds a key policy and cost for no extra protection here.
  for_each = local.event_buses

  name              = "/aws/events/${each.value.name}"
  retention_in_days = var.log_retention_days
}

resource "aws_cloudwatch_event_rule" "finished_jobs" {
  for_each = local.event_buses

  name           = "${each.value.name}-finished-jobs"
  description    = "Example rule: every job that ends (COMPLETED, FAILED, CANCELLED), to a log group."
  event_bus_name = aws_cloudwatch_event_bus.this[each.key].name
  event_pattern = jsonencode({
    source      = ["smmu.job"]
    detail-type = ["Job Status Change"]
    detail      = { status = ["COMPLETED", "FAILED", "CANCELLED"] }
  })
}

resource "aws_cloudwatch_event_target" "finished_jobs_log" {
  for_each = local.event_buses

  rule           = aws_cloudwatch_event_rule.finished_jobs[each.key].name
  event_bus_name = aws_cloudwatch_event_bus.this[each.key].name
  arn            = aws_cloudwatch_log_group.job_events[each.key].arn
}

# EventBridge writes to a log group under the account's CloudWatch Logs resource policy, not a role.
data "aws_iam_policy_document" "events_to_logs" {
  count = length(local.event_buses) > 0 ? 1 : 0

  statement {
    sid       = "EventBridgeWritesJobEvents"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = [for group in aws_cloudwatch_log_group.job_events : "${group.arn}:*"]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com", "delivery.logs.amazonaws.com"]
    }
  }
}

resource "aws_cloudwatch_log_resource_policy" "events_to_logs" {
  count = length(local.event_buses) > 0 ? 1 : 0

  policy_name     = "${values(local.event_buses)[0].name}-events-to-logs"
  policy_document = data.aws_iam_policy_document.events_to_logs[0].json
}
