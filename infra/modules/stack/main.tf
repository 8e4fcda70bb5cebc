# The whole Smart Media Uploader stack, from the resource manifest. Every name and shape comes from
# infra/resources.json (jsondecode below), the file the local provisioner (smmu_stack/provision.py) reads too, so
# the emulated stack and AWS cannot drift apart. Environments (infra/envs/*) differ only in provider and backend.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

data "aws_partition" "current" {}

locals {
  # Settings only the API reads (api/core/config.py): its CORS origins and, when configured, the OIDC issuer.
  api_environment = merge(
    { SMMU_CORS_ORIGINS = jsonencode(var.cors_allowed_origins) },
    var.oidc == null ? {} : {
      SMMU_JWT_JWKS_URL     = var.oidc.jwks_url
      SMMU_JWT_ISSUER       = var.oidc.issuer
      SMMU_JWT_TENANT_CLAIM = var.oidc.tenant_claim
    },
    try(var.oidc.audience, null) == null ? {} : { SMMU_JWT_AUDIENCE = var.oidc.audience },
  )
}

locals {
  repo_root = abspath("${path.module}/../../..")
  manifest  = jsondecode(file(coalesce(var.manifest_path, "${local.repo_root}/infra/resources.json")))
  project   = local.manifest.project
  workers   = try(local.manifest.workers, {})

  functions_zip_path = coalesce(var.functions_zip_path, "${local.repo_root}/build/lambda/smmu-functions.zip")

  # State machine ARNs from their names (as Manifest.state_machine_arn), so the functions' environment and roles
  # need not wait for the machines, whose definitions need the functions' ARNs.
  arn_prefix = "arn:${data.aws_partition.current.partition}:states:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}"
  state_machine_arns = {
    for key, machine in local.manifest.state_machines : key => "${local.arn_prefix}:stateMachine:${machine.name}"
  }

  # Environment references ("<kind>:<key>") resolved as Manifest.resolve() does; a value without ":" is literal,
  # an unknown reference fails the plan.
  references = merge(
    { for key, name in module.storage.bucket_names : "bucket:${key}" => name },
    { for key, table in local.manifest.tables : "table:${key}" => table.name },
    { for key, queue in local.manifest.queues : "queue:${key}" => queue.name },
    { for key, bus in try(local.manifest.event_buses, {}) : "event_bus:${key}" => bus.name },
    { for key, arn in local.state_machine_arns : "state_machine_arn:${key}" => arn },
  )
  environment = {
    for name, value in local.manifest.environment : name => (length(split(":", value)) > 1 ? local.references[value] : value)
  }
}

# -- alarm notifications ----------------------------------------------------------------------------------------------
# CloudWatch cannot publish to a topic encrypted with the AWS managed aws/sns key (its key policy cannot be changed),
# so the topic has its own key that lets CloudWatch encrypt messages for it.
data "aws_iam_policy_document" "alarms_key" {
  #checkov:skip=CKV_AWS_109:Key policy: "*" is this key, and kms:* for the account root is the AWS default that delegates key access to IAM (otherwise the key can become unmanageable).
  #checkov:skip=CKV_AWS_111:Key policy: "*" is this key, and kms:* for the account root is the AWS default that delegates key access to IAM.
  #checkov:skip=CKV_AWS_356:Key policy: "*" as the resource of a key policy means this key only.
  statement {
    sid       = "AccountAdministersKey"
    actions   = ["kms:*"]
    resources = ["*"]
    principals {
      type        = "AWS"
      identifiers = ["arn:${data.aws_partition.current.partition}:iam::${data.aws_caller_identity.current.account_id}:root"]
    }
  }

  statement {
    sid       = "CloudWatchPublishesAlarms"
    actions   = ["kms:GenerateDataKey", "kms:Decrypt"]
    resources = ["*"]
    principals {
      type        = "Service"
      identifiers = ["cloudwatch.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "aws:SourceAccount"
      values   = [data.aws_caller_identity.current.account_id]
    }
  }
}

resource "aws_kms_key" "alarms" {
  description             = "Encrypts the ${local.project} alarm topic"
  enable_key_rotation     = true
  deletion_window_in_days = 7
  policy                  = data.aws_iam_policy_document.alarms_key.json
}

resource "aws_kms_alias" "alarms" {
  name          = "alias/${local.project}-alarms"
  target_key_id = aws_kms_key.alarms.key_id
}

resource "aws_sns_topic" "alarms" {
  name              = "${local.project}-alarms"
  kms_master_key_id = aws_kms_key.alarms.arn
}

resource "aws_sns_topic_subscription" "alarm_email" {
  count = var.alarm_email == null ? 0 : 1

  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = var.alarm_email
}

module "networking" {
  source = "../networking"
  count  = var.enable_container_services ? 1 : 0

  name                    = local.project
  cidr_block              = var.vpc_cidr_block
  egress_mode             = var.egress_mode
  single_nat_gateway      = var.single_nat_gateway
  flow_log_retention_days = var.log_retention_days
}

module "messaging" {
  source = "../messaging"

  manifest           = local.manifest
  alarm_topic_arn    = aws_sns_topic.alarms.arn
  log_retention_days = var.log_retention_days
}

module "storage" {
  source = "../storage"

  manifest             = local.manifest
  bucket_name_suffix   = var.bucket_name_suffix
  queue_arns           = module.messaging.queue_arns
  queue_urls           = module.messaging.queue_urls
  cors_allowed_origins = var.cors_allowed_origins
  force_destroy        = var.force_destroy
}

module "data" {
  source = "../data"

  manifest            = local.manifest
  deletion_protection = var.deletion_protection
}

module "compute" {
  source = "../compute"

  manifest           = local.manifest
  environment        = local.environment
  bucket_arns        = module.storage.bucket_arns
  table_arns         = module.data.table_arns
  queue_arns         = module.messaging.queue_arns
  queue_urls         = module.messaging.queue_urls
  event_bus_arns     = module.messaging.event_bus_arns
  state_machine_arns = local.state_machine_arns
  functions_zip_path = local.functions_zip_path
  log_retention_days = var.log_retention_days
  alarm_topic_arn    = aws_sns_topic.alarms.arn

  enable_container_services = var.enable_container_services
  vpc_id                    = try(module.networking[0].vpc_id, null)
  public_subnet_ids         = try(module.networking[0].public_subnet_ids, [])
  private_subnet_ids        = try(module.networking[0].private_subnet_ids, [])
  image_tag                 = var.image_tag
  certificate_arn           = var.certificate_arn
  allow_plain_http          = var.allow_plain_http
  alb_ingress_cidrs         = var.alb_ingress_cidrs
  waf_rate_limit            = var.waf_rate_limit
  api_environment           = local.api_environment
  deletion_protection       = var.deletion_protection
  force_delete_repositories = var.force_destroy
}

module "orchestration" {
  source = "../orchestration"

  manifest           = local.manifest
  repo_root          = local.repo_root
  function_arns      = module.compute.function_arns
  queue_urls         = module.messaging.queue_urls
  queue_arns         = module.messaging.queue_arns
  worker_queue_arns  = distinct(values(module.compute.worker_queue_arns))
  log_retention_days = var.log_retention_days
  alarm_topic_arn    = aws_sns_topic.alarms.arn
}

check "state_machine_arns_match" {
  assert {
    condition     = alltrue([for key, arn in module.orchestration.state_machine_arns : arn == local.state_machine_arns[key]])
    error_message = "A state machine's ARN differs from the one built from its manifest name (and given to the functions)."
  }
}
