# Queues and dead-letter queues, named and shaped by the manifest's `queues` map (as smmu_stack/provision.py).
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
