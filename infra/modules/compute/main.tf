# Compute: the Lambda functions (one code package, third-party packages inside), the SQS event source mapping, and
# -# with enable_container_services - ECR repositories, the ECS cluster, the API service behind an ALB, and one
# Fargate service per manifest worker, autoscaled on its queue's backlog per task. One IAM role per function and
# per task (iam.tf), each scoped to the ARNs it touches.

data "aws_caller_identity" "current" {}

data "aws_region" "current" {}

locals {
  manifest       = var.manifest
  project        = local.manifest.project
  lambda_package = local.manifest.lambda_package
  functions      = local.manifest.functions
  event_sources  = { for key, function in local.functions : key => function.event_source if try(function.event_source, null) != null }
  schedules      = { for key, function in local.functions : key => function.schedule if try(function.schedule, "") != "" }

  services = var.enable_container_services ? try(local.manifest.services, {}) : {}
  # Workers (FFmpeg, Whisper, ...) are optional in the manifest: none means no worker services.
  workers = var.enable_container_services ? try(local.manifest.workers, {}) : {}

  # Every image a service or worker names gets an ECR repository of that name.
  images = toset(concat(
    [for service in values(local.services) : service.image],
    [for worker in values(local.workers) : worker.image],
  ))
  container_environment = merge(var.environment, { AWS_DEFAULT_REGION = data.aws_region.current.name })

  # Service and worker tasks in one shape, for what they share (log groups, roles, task definitions).
  tasks = merge(
    {
      for key, service in local.services : "service-${key}" => {
        kind           = "service"
        key            = key
        name           = service.name
        image          = service.image
        cpu            = service.cpu
        memory_mb      = service.memory_mb
        command        = try(service.command, null)
        container_port = try(service.container_port, null)
        environment    = key == var.public_service ? merge(local.container_environment, var.api_environment) : local.container_environment
        # Services write nothing locally: their root filesystem is read-only.
        read_only_root        = true
        ephemeral_storage_gib = null
      }
    },
    {
      for key, worker in local.workers : "worker-${key}" => {
        kind           = "worker"
        key            = key
        name           = worker.name
        image          = worker.image
        cpu            = worker.cpu
        memory_mb      = worker.memory_mb
        command        = try(worker.command, null)
        container_port = null
        # Workers need scratch space for media files (see the task definition).
        read_only_root        = false
        ephemeral_storage_gib = try(worker.ephemeral_storage_gib, null)
        # workers/settings.py: SMMU_<WORKER>_QUEUE_URL names the queue the worker consumes.
        environment = merge(local.container_environment, {
          ("SMMU_${upper(key)}_QUEUE_URL") = var.queue_urls[worker.queue]
        })
      }
    },
  )
}

