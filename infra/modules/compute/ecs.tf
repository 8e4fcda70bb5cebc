# -- Container images, cluster, API service behind an ALB, worker services ------------------------------------------

resource "aws_ecr_repository" "this" {
  for_each = local.images

  name                 = each.key
  image_tag_mutability = "IMMUTABLE"
  force_delete         = var.force_delete_repositories

  image_scanning_configuration {
    scan_on_push = true
  }

  encryption_configuration {
    encryption_type = "KMS"
  }
}

resource "aws_ecr_lifecycle_policy" "this" {
  for_each = aws_ecr_repository.this

  repository = each.value.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "Keep the newest ${var.ecr_keep_images} images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = var.ecr_keep_images }
      action       = { type = "expire" }
    }]
  })
}

resource "aws_ecs_cluster" "this" {
  count = var.enable_container_services ? 1 : 0

  name = local.project

  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

resource "aws_ecs_cluster_capacity_providers" "this" {
  count = var.enable_container_services ? 1 : 0

  cluster_name       = aws_ecs_cluster.this[0].name
  capacity_providers = ["FARGATE", "FARGATE_SPOT"]

  default_capacity_provider_strategy {
    capacity_provider = "FARGATE"
    weight            = 1
  }
}

resource "aws_cloudwatch_log_group" "task" {
  #checkov:skip=CKV_AWS_158:Log groups use CloudWatch Logs' default encryption at rest; a customer managed key adds a key policy and cost for no extra protection here.
  for_each = local.tasks

  name              = "/ecs/${each.value.name}"
  retention_in_days = var.log_retention_days
}

# -- The API's playback secret (SMMU_PLAYBACK_SECRET: signs playback URLs, docs/playback.md) ----------------------
# Generated once; every API task reads the same value. Rotating it (a new version) ends the playback URLs issued
# before, which last an hour at most.
data "aws_secretsmanager_random_password" "playback" {
  password_length     = 64
  exclude_punctuation = true
}

resource "aws_secretsmanager_secret" "playback" {
  #checkov:skip=CKV2_AWS_57:Rotation needs no Lambda here: a new version is written by hand (or by a re-apply after tainting the version) and only ends playback URLs, which live an hour.
  #checkov:skip=CKV_AWS_149:Encrypted with the account's Secrets Manager key; a customer managed key adds a key policy and cost for no extra protection of a signing key that never leaves AWS.
  name                    = "${local.project}/playback-secret"
  description             = "Signs the API's playback URLs (SMMU_PLAYBACK_SECRET)"
  recovery_window_in_days = 7
}

resource "aws_secretsmanager_secret_version" "playback" {
  secret_id     = aws_secretsmanager_secret.playback.id
  secret_string = data.aws_secretsmanager_random_password.playback.random_password

  # The data source draws a new value at every plan: keep the first one.
  lifecycle {
    ignore_changes = [secret_string]
  }
}

resource "aws_ecs_task_definition" "this" {
  for_each = local.tasks

  family                   = each.value.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = each.value.cpu
  memory                   = each.value.memory_mb
  task_role_arn            = aws_iam_role.task[each.key].arn
  execution_role_arn       = aws_iam_role.execution[each.key].arn

  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }

  # Workers write media scratch files (their image's TMPDIR, owned by its non-root user) on the task's ephemeral
  # storage, 20 GiB unless the manifest asks for more.
  dynamic "ephemeral_storage" {
    for_each = each.value.ephemeral_storage_gib != null ? [each.value.ephemeral_storage_gib] : []
    content {
      size_in_gib = ephemeral_storage.value
    }
  }

  container_definitions = jsonencode([
    {
      name                   = each.value.key
      image                  = "${aws_ecr_repository.this[each.value.image].repository_url}:${var.image_tag}"
      essential              = true
      command                = each.value.command
      readonlyRootFilesystem = each.value.read_only_root
      stopTimeout            = 120
      environment            = [for name in sort(keys(each.value.environment)) : { name = name, value = each.value.environment[name] }]
      secrets                = each.value.key == var.public_service && each.value.kind == "service" ? [{ name = "SMMU_PLAYBACK_SECRET", valueFrom = aws_secretsmanager_secret.playback.arn }] : []
      portMappings           = (each.value.container_port == null ? [] : [{ containerPort = each.value.container_port, protocol = "tcp" }])
      logConfiguration = {
        logDriver = "awslogs"
        options = {
          awslogs-group         = aws_cloudwatch_log_group.task[each.key].name
          awslogs-region        = data.aws_region.current.name
          awslogs-stream-prefix = each.value.key
        }
      }
    }
  ])
}

# -- network access ---------------------------------------------------------------------------------------------------
resource "aws_security_group" "alb" {
  count = var.enable_container_services ? 1 : 0

  name        = "${local.project}-alb"
  description = "Public load balancer in front of the API"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb" {
  #checkov:skip=CKV_AWS_260:The load balancer is the API's entry point; it admits only the networks alb_ingress_cidrs names (none by default).
  for_each = var.enable_container_services ? {
    for pair in setproduct(var.alb_ingress_cidrs, var.certificate_arn == null ? [80] : [80, 443]) : "${pair[0]}-${pair[1]}" => pair
  } : {}

  security_group_id = aws_security_group.alb[0].id
  description       = "Clients to the load balancer"
  cidr_ipv4         = each.value[0]
  from_port         = each.value[1]
  to_port           = each.value[1]
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_services" {
  for_each = { for key, service in local.services : key => service if try(service.container_port, null) != null }

  security_group_id            = aws_security_group.alb[0].id
  description                  = "Load balancer to the ${each.key} tasks"
  referenced_security_group_id = aws_security_group.task["service-${each.key}"].id
  from_port                    = each.value.container_port
  to_port                      = each.value.container_port
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "task" {
  #checkov:skip=CKV2_AWS_5:Attached to the ECS services (network_configuration, by the same task key); checkov cannot follow the computed for_each key.
  for_each = local.tasks

  name        = "${each.value.name}-task"
  description = "Fargate tasks of ${each.value.name}"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "services_from_alb" {
  for_each = { for key, service in local.services : key => service if try(service.container_port, null) != null }

  security_group_id            = aws_security_group.task["service-${each.key}"].id
  description                  = "From the load balancer"
  referenced_security_group_id = aws_security_group.alb[0].id
  from_port                    = each.value.container_port
  to_port                      = each.value.container_port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "tasks_https" {
  for_each = local.tasks

  security_group_id = aws_security_group.task[each.key].id
  description       = "HTTPS to AWS APIs and the image registry (through NAT or VPC endpoints)"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

# -- API service behind the load balancer ---------------------------------------------------------------------------
resource "aws_lb" "api" {
  #checkov:skip=CKV_AWS_91:Access logs need a log bucket with an ELB-account bucket policy; enable them with the bucket where request-level audit is required. Requests are logged by the API itself.
  #checkov:skip=CKV2_AWS_28:The WAF web ACL is optional (waf_rate_limit): it costs a monthly fee plus per-request charges, and the API limits each tenant's request rate itself.
  #checkov:skip=CKV2_AWS_20:HTTP redirects to HTTPS; a plain HTTP listener exists only with the explicit allow_plain_http development flag.
  #checkov:skip=CKV2_AWS_76:The optional web ACL (waf_rate_limit) carries AWSManagedRulesKnownBadInputsRuleSet, whose rules include Log4j; checkov cannot follow the count-based association.
  count = var.enable_container_services ? 1 : 0

  name                       = "${local.project}-api"
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb[0].id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection

  lifecycle {
    precondition {
      condition     = var.certificate_arn != null || var.allow_plain_http
      error_message = "The API needs HTTPS: set certificate_arn, or allow_plain_http = true for a development stack."
    }
  }
}

resource "aws_lb_target_group" "service" {
  #checkov:skip=CKV_AWS_378:TLS ends at the load balancer (HTTPS listener with certificate_arn); load balancer to task traffic stays inside the VPC, allowed only from the load balancer's security group.
  for_each = { for key, service in local.services : key => service if try(service.container_port, null) != null }

  name                 = each.value.name
  target_type          = "ip"
  protocol             = "HTTP"
  port                 = each.value.container_port
  vpc_id               = var.vpc_id
  deregistration_delay = 30

  health_check {
    path                = each.value.health_check_path
    matcher             = "200"
    interval            = 15
    timeout             = 5
    healthy_threshold   = 2
    unhealthy_threshold = 3
  }
}

resource "aws_lb_listener" "http_forward" {
  #checkov:skip=CKV_AWS_2:Created only with the explicit allow_plain_http development flag and no certificate; otherwise HTTP redirects to the HTTPS listener.
  #checkov:skip=CKV_AWS_103:Plain HTTP listener (no TLS policy applies); the HTTPS listener uses a TLS 1.2+/1.3 policy.
  count = var.enable_container_services && var.certificate_arn == null && var.allow_plain_http ? 1 : 0

  load_balancer_arn = aws_lb.api[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service[var.public_service].arn
  }
}

resource "aws_lb_listener" "http_redirect" {
  count = var.enable_container_services && var.certificate_arn != null ? 1 : 0

  load_balancer_arn = aws_lb.api[0].arn
  port              = 80
  protocol          = "HTTP"

  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_lb_listener" "https" {
  count = var.enable_container_services && var.certificate_arn != null ? 1 : 0

  load_balancer_arn = aws_lb.api[0].arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn

  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.service[var.public_service].arn
  }
}

# -- optional WAF: a per-address rate rule and AWS's known-bad-inputs rules in front of the load balancer --------------
resource "aws_wafv2_web_acl" "api" {
  #checkov:skip=CKV2_AWS_31:WAF logging needs a Firehose or an aws-waf-logs-* log group and its own retention decision; the rules' CloudWatch metrics and sampled requests are on.
  count = var.enable_container_services && var.waf_rate_limit != null ? 1 : 0

  name  = "${local.project}-api"
  scope = "REGIONAL"

  default_action {
    allow {}
  }

  rule {
    name     = "rate-per-address"
    priority = 1

    action {
      block {}
    }

    statement {
      rate_based_statement {
        limit              = var.waf_rate_limit
        aggregate_key_type = "IP"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.project}-api-rate"
      sampled_requests_enabled   = true
    }
  }

  rule {
    name     = "known-bad-inputs"
    priority = 2

    override_action {
      none {}
    }

    statement {
      managed_rule_group_statement {
        name        = "AWSManagedRulesKnownBadInputsRuleSet"
        vendor_name = "AWS"
      }
    }

    visibility_config {
      cloudwatch_metrics_enabled = true
      metric_name                = "${local.project}-api-bad-inputs"
      sampled_requests_enabled   = true
    }
  }

  visibility_config {
    cloudwatch_metrics_enabled = true
    metric_name                = "${local.project}-api"
    sampled_requests_enabled   = true
  }
}

resource "aws_wafv2_web_acl_association" "api" {
  count = var.enable_container_services && var.waf_rate_limit != null ? 1 : 0

  resource_arn = aws_lb.api[0].arn
  web_acl_arn  = aws_wafv2_web_acl.api[0].arn
}

resource "aws_ecs_service" "service" {
  for_each = local.services

  name                              = each.value.name
  cluster                           = aws_ecs_cluster.this[0].id
  task_definition                   = aws_ecs_task_definition.this["service-${each.key}"].arn
  desired_count                     = each.value.desired_count
  launch_type                       = "FARGATE"
  platform_version                  = "LATEST"
  propagate_tags                    = "SERVICE"
  health_check_grace_period_seconds = try(each.value.container_port, null) != null ? 60 : null

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task["service-${each.key}"].id]
    assign_public_ip = false
  }

  dynamic "load_balancer" {
    for_each = try(each.value.container_port, null) != null ? [each.value.container_port] : []
    content {
      target_group_arn = aws_lb_target_group.service[each.key].arn
      container_name   = each.key
      container_port   = load_balancer.value
    }
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  depends_on = [aws_lb_listener.http_forward, aws_lb_listener.https, aws_iam_role_policy.task]
}

# -- worker services, scaled on their queue's backlog per task ------------------------------------------------------
resource "aws_ecs_service" "worker" {
  for_each = local.workers

  name             = each.value.name
  cluster          = aws_ecs_cluster.this[0].id
  task_definition  = aws_ecs_task_definition.this["worker-${each.key}"].arn
  desired_count    = try(each.value.min_count, 0)
  launch_type      = "FARGATE"
  platform_version = "LATEST"
  propagate_tags   = "SERVICE"

  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task["worker-${each.key}"].id]
    assign_public_ip = false
  }

  deployment_circuit_breaker {
    enable   = true
    rollback = true
  }

  lifecycle {
    # The autoscaling policy owns the task count once the service exists.
    ignore_changes = [desired_count]
  }

  depends_on = [aws_iam_role_policy.task]
}

resource "aws_appautoscaling_target" "worker" {
  for_each = local.workers

  service_namespace  = "ecs"
  scalable_dimension = "ecs:service:DesiredCount"
  resource_id        = "service/${aws_ecs_cluster.this[0].name}/${aws_ecs_service.worker[each.key].name}"
  min_capacity       = try(each.value.min_count, 0)
  max_capacity       = try(each.value.max_count, 1)
}

resource "aws_appautoscaling_policy" "worker_backlog" {
  for_each = local.workers

  name               = "${each.value.name}-backlog-per-task"
  policy_type        = "TargetTrackingScaling"
  service_namespace  = aws_appautoscaling_target.worker[each.key].service_namespace
  scalable_dimension = aws_appautoscaling_target.worker[each.key].scalable_dimension
  resource_id        = aws_appautoscaling_target.worker[each.key].resource_id

  target_tracking_scaling_policy_configuration {
    # Messages waiting per running task; with no task running the whole backlog counts, so work wakes it up.
    target_value       = try(each.value.backlog_per_task, var.worker_backlog_per_task)
    scale_in_cooldown  = 300
    scale_out_cooldown = 60

    customized_metric_specification {
      metrics {
        id          = "visible"
        return_data = false
        metric_stat {
          stat = "Sum"
          metric {
            namespace   = "AWS/SQS"
            metric_name = "ApproximateNumberOfMessagesVisible"
            dimensions {
              name  = "QueueName"
              value = local.manifest.queues[each.value.queue].name
            }
          }
        }
      }

      metrics {
        id          = "running"
        return_data = false
        metric_stat {
          stat = "Average"
          metric {
            namespace   = "ECS/ContainerInsights"
            metric_name = "RunningTaskCount"
            dimensions {
              name  = "ClusterName"
              value = aws_ecs_cluster.this[0].name
            }
            dimensions {
              name  = "ServiceName"
              value = aws_ecs_service.worker[each.key].name
            }
          }
        }
      }

      metrics {
        id          = "backlog_per_task"
        label       = "Messages visible per running task"
        expression  = "IF(running > 0, visible / running, visible)"
        return_data = true
      }
    }
  }
}
