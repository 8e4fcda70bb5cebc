# Roles the deploy workflow (.github/workflows/deploy.yml) assumes with GitHub's OIDC tokens, no stored keys:
#   <project>-deploy-plan  - pull requests: read-only access plus the state, for `terraform plan`;
#   <project>-deploy-apply - the deploy branch only: `terraform apply` with the policies in apply_role_policy_arns.

locals {
  github_enabled  = var.github_repository != ""
  oidc_host       = "token.actions.githubusercontent.com"
  oidc_issuer_arn = "arn:${data.aws_partition.current.partition}:iam::${local.account_id}:oidc-provider/${local.oidc_host}"
}

resource "aws_iam_openid_connect_provider" "github" {
  count = local.github_enabled && var.create_github_oidc_provider ? 1 : 0

  url            = "https://${local.oidc_host}"
  client_id_list = ["sts.amazonaws.com"]
  # IAM no longer checks the thumbprint for this provider (it trusts GitHub's certificate authority); the
  # argument is still required by the API.
  thumbprint_list = ["6938fd4d98bab03faadb97b34396831e3780aea1"]
}

data "aws_iam_policy_document" "github_assume" {
  #checkov:skip=CKV_AWS_358:The sub claim is pinned to repo:<github_repository>:pull_request (plan) and repo:<github_repository>:ref:refs/heads/<deploy_branch> (apply) with StringEquals; checkov cannot resolve the variables.
  for_each = local.github_enabled ? {
    plan  = ["repo:${var.github_repository}:pull_request"]
    apply = ["repo:${var.github_repository}:ref:refs/heads/${var.deploy_branch}"]
  } : {}

  statement {
    actions = ["sts:AssumeRoleWithWebIdentity"]
    principals {
      type        = "Federated"
      identifiers = [local.oidc_issuer_arn]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:aud"
      values   = ["sts.amazonaws.com"]
    }
    condition {
      test     = "StringEquals"
      variable = "${local.oidc_host}:sub"
      values   = each.value
    }
  }
}

resource "aws_iam_role" "deploy" {
  for_each = data.aws_iam_policy_document.github_assume

  name                 = "${var.project}-deploy-${each.key}"
  assume_role_policy   = each.value.json
  max_session_duration = 3600

  depends_on = [aws_iam_openid_connect_provider.github]
}

data "aws_iam_policy_document" "state_access" {
  for_each = aws_iam_role.deploy

  statement {
    sid       = "ListState"
    actions   = ["s3:ListBucket"]
    resources = [aws_s3_bucket.state.arn]
  }

  # plan reads the state; apply writes it too.
  statement {
    sid       = "State"
    actions   = each.key == "apply" ? ["s3:GetObject", "s3:PutObject"] : ["s3:GetObject"]
    resources = ["${aws_s3_bucket.state.arn}/*"]
  }

  # Both take the lock (plan holds it while it reads).
  statement {
    sid       = "Lock"
    actions   = ["dynamodb:DescribeTable", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"]
    resources = [aws_dynamodb_table.lock.arn]
  }

  statement {
    sid       = "StateKey"
    actions   = ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [aws_kms_key.state.arn]
  }
}

resource "aws_iam_role_policy" "state_access" {
  for_each = aws_iam_role.deploy

  name   = "terraform-state"
  role   = each.value.id
  policy = data.aws_iam_policy_document.state_access[each.key].json
}

resource "aws_iam_role_policy_attachment" "plan_read_only" {
  count = local.github_enabled ? 1 : 0

  role       = aws_iam_role.deploy["plan"].name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/ReadOnlyAccess"
}

resource "aws_iam_role_policy_attachment" "apply" {
  for_each = local.github_enabled ? toset(var.apply_role_policy_arns) : toset([])

  role       = aws_iam_role.deploy["apply"].name
  policy_arn = each.value
}
