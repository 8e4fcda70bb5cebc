# One role per function and per task, each allowed only the calls its code makes, on the ARNs it makes them on.
# The statements below are the code's knowledge of which function touches what; resource names come from the
# manifest (through the ARNs passed in). A function the manifest adds without an entry here gets logs only.

locals {
  jobs_table       = var.table_arns["jobs"]
  media_table      = var.table_arns["media"]
  api_keys_table   = var.table_arns["api_keys"]
  usage_table      = var.table_arns["usage"]
  raw_bucket       = var.bucket_arns["raw"]
  processed_items  = "${var.bucket_arns["processed"]}/${var.output_prefix}*"
  raw_uploads      = "${var.bucket_arns["raw"]}/${var.upload_prefix}*"
  processed_bucket = var.bucket_arns["processed"]
  jobs_indexes     = [for index in local.manifest.tables.jobs.global_secondary_indexes : "${local.jobs_table}/index/${index.name}"]

  webhooks_table   = var.table_arns["webhooks"]
  deliveries_table = var.table_arns["webhook_deliveries"]
  webhook_indexes  = [for index in local.manifest.tables.webhooks.global_secondary_indexes : "${local.webhooks_table}/index/${index.name}"]
  delivery_indexes = [for index in local.manifest.tables.webhook_deliveries.global_secondary_indexes : "${local.deliveries_table}/index/${index.name}"]

  pipeline_executions = "${replace(var.state_machine_arns["pipeline"], ":stateMachine:", ":execution:")}:*"
  # The duplicates lookup (JobRepository.find_completed_by_content) queries this index of the jobs table only.
  jobs_content_index = "${local.jobs_table}/index/by_content"

  job_records = { sid = "JobRecords", actions = ["dynamodb:GetItem", "dynamodb:UpdateItem"], resources = [local.jobs_table] }
  # HeadObject and GetObject both need s3:GetObject.
  read_uploads = { sid = "ReadUploads", actions = ["s3:GetObject"], resources = [local.raw_uploads] }
  # Removing a cancelled or deleted job's outputs: every version (ListObjectVersions, then DeleteObjects of each).
  list_output_versions = { sid = "ListOutputVersions", actions = ["s3:ListBucketVersions"], resources = [local.processed_bucket] }
  remove_outputs       = { sid = "RemoveOutputs", actions = ["s3:DeleteObject", "s3:DeleteObjectVersion"], resources = [local.processed_items] }
  # Duplicates: finds a completed job with the same bytes, copies its outputs (CopyObject reads the source) and
  # its media record.
  find_duplicates = { sid = "FindDuplicates", actions = ["dynamodb:Query"], resources = [local.jobs_content_index] }
  reuse_outputs   = { sid = "ReuseOutputs", actions = ["s3:GetObject"], resources = [local.processed_items] }
  reuse_media     = { sid = "ReuseMedia", actions = ["dynamodb:GetItem"], resources = [local.media_table] }

  # Whoever changes a job's status announces it: a smmu.job event on the bus, a job event on the webhooks queue
  # (smmu/notifications.py).
  put_job_events       = { sid = "PutJobEvents", actions = ["events:PutEvents"], resources = [var.event_bus_arns["jobs"]] }
  queue_webhook_events = { sid = "QueueWebhookEvents", actions = ["sqs:SendMessage", "sqs:GetQueueUrl"], resources = [var.queue_arns["webhooks"]] }

  function_statements = {
    webhooks = [
      { sid = "ReadEndpoints", actions = ["dynamodb:GetItem", "dynamodb:Query"], resources = concat([local.webhooks_table], local.webhook_indexes) },
      # DeleteItem: deliveries it wrote for a job that was being deleted meanwhile (the deletion leaves none).
      {
        sid       = "RecordDeliveries"
        actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"]
        resources = [local.deliveries_table]
      },
      { sid = "ReadJobs", actions = ["dynamodb:GetItem"], resources = [local.jobs_table, local.media_table] },
      # The payload's download links are presigned with this role's credentials.
      { sid = "PresignDownloads", actions = ["s3:GetObject"], resources = [local.processed_items] },
      # Retries go back to the webhooks queue delayed; deliveries that fail for good to its dead-letter queue.
      {
        sid       = "QueueRetriesAndDeadLetters"
        actions   = ["sqs:SendMessage", "sqs:GetQueueUrl"]
        resources = [var.queue_arns["webhooks"], var.queue_arns["webhooks_dlq"]]
      },
    ]
    dispatcher = [
      local.put_job_events,
      local.queue_webhook_events,
      local.job_records,
      { sid = "StartPipeline", actions = ["states:StartExecution"], resources = [var.state_machine_arns["pipeline"]] },
    ]
    update_status = [local.put_job_events, local.queue_webhook_events, local.job_records]
    validate_input = [
      local.job_records,
      local.read_uploads,
      # HeadObject on a missing key answers 404 only to a caller that may list the bucket (403 otherwise), and
      # the step tells a missing upload by that 404. The s3:prefix condition cannot apply to HeadObject.
      { sid = "TellMissingUploads", actions = ["s3:ListBucket"], resources = [local.raw_bucket] },
    ]
    detect_type = [local.job_records, local.read_uploads]
    reconcile = [
      local.put_job_events,
      local.queue_webhook_events,
      local.job_records,
      # Lists stuck jobs by status (the jobs table's indexes).
      { sid = "FindStuckJobs", actions = ["dynamodb:Query"], resources = local.jobs_indexes },
      { sid = "RestartPipeline", actions = ["states:StartExecution"], resources = [var.state_machine_arns["pipeline"]] },
      { sid = "ReadExecutions", actions = ["states:DescribeExecution"], resources = [local.pipeline_executions] },
      # Aborts abandoned multipart uploads (the lifecycle rule removes them too, but only after a day).
      { sid = "FindAbandonedUploads", actions = ["s3:ListBucketMultipartUploads"], resources = [local.raw_bucket] },
      { sid = "AbortAbandonedUploads", actions = ["s3:AbortMultipartUpload"], resources = [local.raw_uploads] },
      # Retention sweep (the buckets' expiration rules do the same on AWS): list by version, delete old ones.
      { sid = "FindExpiredFiles", actions = ["s3:ListBucketVersions"], resources = [local.raw_bucket, local.processed_bucket] },
      {
        sid       = "RemoveExpiredFiles"
        actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
        resources = [local.raw_uploads, local.processed_items]
      },
    ]
    process_image = [
      local.job_records,
      local.read_uploads,
      # DeleteItem: the media record of a job deleted while its thumbnails were made.
      { sid = "WriteMedia", actions = ["dynamodb:PutItem", "dynamodb:DeleteItem"], resources = [local.media_table] },
      { sid = "WriteOutputs", actions = ["s3:PutObject"], resources = [local.processed_items] },
      local.list_output_versions,
      local.remove_outputs,
      local.find_duplicates,
      local.reuse_outputs,
      local.reuse_media,
    ]
    # Reads the HLS master and the transcript's WebVTT (HeadObject: captions a duplicate's master names already),
    # writes the captions next to the master.
    package_hls = [
      local.job_records,
      { sid = "ReadOutputs", actions = ["s3:GetObject"], resources = [local.processed_items] },
      { sid = "WriteOutputs", actions = ["s3:PutObject"], resources = [local.processed_items] },
    ]
  }

  service_statements = {
    api = [
      # Announces the status changes it makes (an aborted upload, a cancel), as the functions do.
      { sid = "PutJobEvents", actions = ["events:PutEvents"], resources = [var.event_bus_arns["jobs"]] },
      { sid = "QueueWebhookEvents", actions = ["sqs:SendMessage", "sqs:GetQueueUrl"], resources = [var.queue_arns["webhooks"]] },
      # The tenant's webhook endpoints (registered, listed, changed, removed) and their delivery log.
      {
        sid       = "WebhookEndpoints"
        actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:Query"]
        resources = concat([local.webhooks_table], local.webhook_indexes)
      },
      { sid = "WebhookDeliveries", actions = ["dynamodb:Query"], resources = local.delivery_indexes },
      {
        sid       = "JobRecords"
        actions   = ["dynamodb:PutItem", "dynamodb:GetItem", "dynamodb:Query", "dynamodb:DescribeTable"]
        resources = concat([local.jobs_table], local.jobs_indexes)
      },
      { sid = "MediaRecords", actions = ["dynamodb:GetItem"], resources = [local.media_table] },
      # Authenticates API keys (their hashes); creating and revoking keys is an operator's job, not the API's.
      { sid = "ApiKeys", actions = ["dynamodb:GetItem"], resources = [local.api_keys_table] },
      # Per-tenant rate limit and quota counters (conditional ADD).
      { sid = "UsageCounters", actions = ["dynamodb:UpdateItem"], resources = [local.usage_table] },
      # Presigned POST uploads and presigned GET downloads are signed with the task role's credentials;
      # s3:PutObject also covers Create/UploadPart/CompleteMultipartUpload of multipart uploads.
      { sid = "PresignUploads", actions = ["s3:PutObject"], resources = [local.raw_uploads] },
      {
        sid       = "MultipartUploads"
        actions   = ["s3:ListMultipartUploadParts", "s3:AbortMultipartUpload"]
        resources = [local.raw_uploads]
      },
      # A multipart upload's checksum on its job, and its job FAILED when the client aborts it.
      { sid = "JobUpdates", actions = ["dynamodb:UpdateItem"], resources = [local.jobs_table] },
      # Also reads HLS playlists to rewrite them (docs/playback.md).
      { sid = "PresignDownloads", actions = ["s3:GetObject"], resources = [local.processed_items] },
      # Playback: a playlist may name only files its job has (one listing of the job's output prefix).
      {
        sid        = "ListJobOutputs"
        actions    = ["s3:ListBucket"]
        resources  = [var.bucket_arns["processed"]]
        conditions = [{ test = "StringLike", variable = "s3:prefix", values = ["${var.output_prefix}*"] }]
      },
      # /healthz: HeadBucket on the upload bucket.
      { sid = "HealthCheck", actions = ["s3:ListBucket"], resources = [local.raw_bucket] },
      # Cancel, retry and delete (smmu/lifecycle.py): stop or start the job's execution, remove its files (every
      # version) and its records.
      {
        sid       = "JobExecutions"
        actions   = ["states:StartExecution", "states:StopExecution", "states:DescribeExecution"]
        resources = [var.state_machine_arns["pipeline"], local.pipeline_executions]
      },
      { sid = "ListFileVersions", actions = ["s3:ListBucketVersions"], resources = [local.raw_bucket, local.processed_bucket] },
      {
        sid       = "RemoveJobFiles"
        actions   = ["s3:DeleteObject", "s3:DeleteObjectVersion"]
        resources = [local.raw_uploads, local.processed_items]
      },
      { sid = "RemoveJobRecords", actions = ["dynamodb:DeleteItem"], resources = [local.jobs_table, local.media_table] },
      # The job's webhook deliveries (found through the by_job index, which WebhookDeliveries may query).
      { sid = "RemoveJobDeliveries", actions = ["dynamodb:BatchWriteItem"], resources = [local.deliveries_table] },
      # A retry checks the upload is still stored (HeadObject).
      { sid = "ReadUploads", actions = ["s3:GetObject"], resources = [local.raw_uploads] },
    ]
  }

  worker_statements = {
    for key, worker in local.workers : key => [
      {
        sid       = "ConsumeTasks"
        actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes"]
        resources = [var.queue_arns[worker.queue]]
      },
      # SendTask* name a task token, not a resource; IAM authorizes them against the state machine that issued
      # the token (as the AWS CDK's grantTaskResponse does), so they are scoped to this stack's machines.
      {
        sid       = "TaskCallbacks"
        actions   = ["states:SendTaskSuccess", "states:SendTaskFailure", "states:SendTaskHeartbeat"]
        resources = values(var.state_machine_arns)
      },
      local.read_uploads,
      { sid = "WriteOutputs", actions = ["s3:PutObject"], resources = [local.processed_items] },
      # DeleteItem: the media record of a job deleted while the task ran.
      { sid = "WriteMedia", actions = ["dynamodb:PutItem", "dynamodb:DeleteItem"], resources = [local.media_table] },
      local.job_records,
      local.list_output_versions,
      local.remove_outputs,
      # job.progress webhooks: each new step of a stage's progress goes on the webhooks queue.
      local.queue_webhook_events,
      local.find_duplicates,
      local.reuse_outputs,
      local.reuse_media,
      # ListObjectsV2 under the output prefix: an identical upload's files to copy, an earlier attempt's to remove.
      {
        sid        = "ListOutputs"
        actions    = ["s3:ListBucket"]
        resources  = [local.processed_bucket]
        conditions = [{ test = "StringLike", variable = "s3:prefix", values = ["${var.output_prefix}*"] }]
      },
    ]
  }

  task_statements = merge(
    { for key, service in local.services : "service-${key}" => lookup(local.service_statements, key, []) },
    { for key, worker in local.workers : "worker-${key}" => local.worker_statements[key] },
  )
}

# -- Lambda function roles ------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "lambda_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each = local.functions

  name               = "${each.value.name}-function"
  assume_role_policy = data.aws_iam_policy_document.lambda_assume.json
}

data "aws_iam_policy_document" "function" {
  for_each = local.functions

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }

  # X-Ray's write actions do not support resource-level permissions: AWS requires "*".
  statement {
    sid       = "WriteTraces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }

  dynamic "statement" {
    for_each = contains(keys(local.event_sources), each.key) ? [local.event_sources[each.key]] : []
    content {
      sid       = "ConsumeEventSource"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [var.queue_arns[statement.value.queue]]
    }
  }

  dynamic "statement" {
    for_each = lookup(local.function_statements, each.key, [])
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = local.functions

  name   = "least-privilege"
  role   = aws_iam_role.function[each.key].id
  policy = data.aws_iam_policy_document.function[each.key].json
}

# -- ECS task roles (what the code calls) and execution roles (what ECS calls to start the task) -------------------
data "aws_iam_policy_document" "ecs_tasks_assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_iam_role" "task" {
  for_each = local.tasks

  name               = "${each.value.name}-task"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "task" {
  for_each = { for key, statements in local.task_statements : key => statements if length(statements) > 0 }

  dynamic "statement" {
    for_each = each.value
    content {
      sid       = statement.value.sid
      actions   = statement.value.actions
      resources = statement.value.resources

      dynamic "condition" {
        for_each = try(statement.value.conditions, [])
        content {
          test     = condition.value.test
          variable = condition.value.variable
          values   = condition.value.values
        }
      }
    }
  }
}

resource "aws_iam_role_policy" "task" {
  for_each = data.aws_iam_policy_document.task

  name   = "least-privilege"
  role   = aws_iam_role.task[each.key].id
  policy = each.value.json
}

resource "aws_iam_role" "execution" {
  for_each = local.tasks

  name               = "${each.value.name}-execution"
  assume_role_policy = data.aws_iam_policy_document.ecs_tasks_assume.json
}

data "aws_iam_policy_document" "execution" {
  for_each = local.tasks

  # GetAuthorizationToken does not support resource-level permissions: AWS requires "*".
  statement {
    sid       = "RegistryLogin"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }

  statement {
    sid       = "PullImage"
    actions   = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"]
    resources = [aws_ecr_repository.this[each.value.image].arn]
  }

  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.task[each.key].arn}:*"]
  }

  # The API's secrets, which ECS hands to the container as environment variables at start.
  dynamic "statement" {
    for_each = each.value.key == var.public_service && each.value.kind == "service" ? [1] : []
    content {
      sid       = "ReadApiSecrets"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [aws_secretsmanager_secret.playback.arn]
    }
  }
}

resource "aws_iam_role_policy" "execution" {
  for_each = local.tasks

  name   = "pull-image-and-log"
  role   = aws_iam_role.execution[each.key].id
  policy = data.aws_iam_policy_document.execution[each.key].json
}
