# S3 buckets, named and shaped by the manifest's `buckets` map (as smmu_stack/provision.py): private, encrypted,
# TLS only, versioned where the manifest says so, raw uploads expiring after `expire_after_days`, CORS methods
# from the manifest, and ObjectCreated notifications (with their prefix filter) sent to the manifest's queues.

data "aws_caller_identity" "current" {}

locals {
  buckets   = var.manifest.buckets
  versioned = { for key, bucket in local.buckets : key => bucket if bucket.versioning }
  notifying = { for key, bucket in local.buckets : key => bucket if length(bucket.notifications) > 0 }

  # Queue key => the buckets that notify it; each such queue gets a policy that lets S3 (for those buckets) send.
  notified_queues = distinct(flatten([for bucket in values(local.buckets) : [for n in bucket.notifications : n.queue]]))
  queue_sources = {
    for queue in local.notified_queues : queue => [
      for key, bucket in local.buckets : aws_s3_bucket.this[key].arn if contains([for n in bucket.notifications : n.queue], queue)
    ]
  }
}

resource "aws_s3_bucket" "this" {
  #checkov:skip=CKV_AWS_18:Server access logs would need a third bucket per environment; CloudTrail S3 data events are the audit trail to enable where required.
  #checkov:skip=CKV_AWS_144:Cross-region replication is not needed: raw uploads are transient (they expire) and processed outputs can be regenerated from a new upload.
  #checkov:skip=CKV_AWS_145:SSE-S3 (AES256), as the local stack: SSE-KMS would need kms permissions in every role and in every presigned POST/GET client flow, and per-request KMS charges.
  #checkov:skip=CKV2_AWS_62:Only buckets whose manifest entry lists notifications send events (the raw bucket, to the jobs queue); the processed bucket has nothing to notify.
  #checkov:skip=CKV_AWS_21:Versioning follows the manifest: the raw bucket holds transient uploads that expire, the processed bucket is versioned (aws_s3_bucket_versioning below).
  for_each = local.buckets

  bucket        = "${each.value.name}${var.bucket_name_suffix}"
  force_destroy = var.force_destroy
}

resource "aws_s3_bucket_public_access_block" "this" {
  for_each = aws_s3_bucket.this

  bucket                  = each.value.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_ownership_controls" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    object_ownership = "BucketOwnerEnforced"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  for_each = aws_s3_bucket.this

  bucket = each.value.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "AES256"
    }
  }
}

resource "aws_s3_bucket_versioning" "this" {
  for_each = local.versioned

  bucket = aws_s3_bucket.this[each.key].id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  #checkov:skip=CKV_AWS_300:Every bucket has the abort-incomplete-multipart-uploads rule below (filter {}); checkov drops static rule blocks when a dynamic "rule" block is present and misses it.
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id

  dynamic "rule" {
    for_each = each.value.expire_after_days > 0 ? [each.value.expire_after_days] : []
    content {
      id     = "expire-uploads"
      status = "Enabled"
      filter {
        prefix = each.value.expire_prefix
      }
      expiration {
        days = rule.value
      }
    }
  }

  rule {
    id     = "abort-incomplete-multipart-uploads"
    status = "Enabled"
    filter {}
    abort_incomplete_multipart_upload {
      days_after_initiation = 1
    }
  }

  dynamic "rule" {
    for_each = each.value.versioning ? [var.noncurrent_version_expiration_days] : []
    content {
      id     = "expire-noncurrent-versions"
      status = "Enabled"
      filter {}
      noncurrent_version_expiration {
        noncurrent_days = rule.value
      }
    }
  }

  depends_on = [aws_s3_bucket_versioning.this]
}

# Browsers may use the presigned URLs only from the listed origins; none listed, no CORS rule at all.
resource "aws_s3_bucket_cors_configuration" "this" {
  for_each = length(var.cors_allowed_origins) > 0 ? local.buckets : {}

  bucket = aws_s3_bucket.this[each.key].id
  cors_rule {
    allowed_methods = each.value.cors_allowed_methods
    allowed_origins = var.cors_allowed_origins
    # x-amz-checksum-sha256 is signed into every multipart part URL: the browser sends it with the part.
    allowed_headers = ["Content-Type", "x-amz-checksum-sha256"]
    max_age_seconds = 3000
  }
}

data "aws_iam_policy_document" "bucket" {
  for_each = local.buckets

  statement {
    sid     = "DenyInsecureTransport"
    effect  = "Deny"
    actions = ["s3:*"]
    resources = [
      aws_s3_bucket.this[each.key].arn,
      "${aws_s3_bucket.this[each.key].arn}/*",
    ]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  for_each = local.buckets

  bucket = aws_s3_bucket.this[each.key].id
  policy = data.aws_iam_policy_document.bucket[each.key].json

  depends_on = [aws_s3_bucket_public_access_block.this]
}

# -- event notifications ------------------------------------------------------------------------------------------
data "aws_iam_policy_document" "queue" {
  for_each = local.queue_sources

  statement {
    sid       = "AllowUploadEvents"
    actions   = ["sqs:SendMessage"]
    resources = [var.queue_arns[each.key]]
    principals {
      type        = "Service"
      identifiers = ["s3.amazonaws.com"]
    }
    condition {
      test     = "ArnLike"
      variable = "aws:SourceArn"
      values   = each.value
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_sqs_queue_policy" "notifications" {
  for_each = local.queue_sources

  queue_url = var.queue_urls[each.key]
  policy    = data.aws_iam_policy_document.queue[each.key].json
}

resource "aws_s3_bucket_notification" "this" {
  for_each = local.notifying

  bucket = aws_s3_bucket.this[each.key].id

  dynamic "queue" {
    for_each = each.value.notifications
    content {
      id            = "${queue.value.queue}-${replace(queue.value.prefix, "/", "")}"
      queue_arn     = var.queue_arns[queue.value.queue]
      events        = queue.value.events
      filter_prefix = queue.value.prefix
    }
  }

  # S3 checks that it may send to the queue when the notification is created.
  depends_on = [aws_sqs_queue_policy.notifications]
}
