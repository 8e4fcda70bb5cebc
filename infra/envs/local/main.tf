# Local environment on LocalStack: the same stack module as dev, without the container services (LocalStack's free
# edition has no ECS, ELB or ECR; run the API with `smmu dev` or docker compose instead). Alternative: keep the dev
# configuration and run it through `tflocal` (pip install terraform-local), which rewrites the endpoints itself.

provider "aws" {
  region     = var.region
  access_key = "test"
  secret_key = "test"

  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_requesting_account_id  = true
  skip_region_validation      = true
  s3_use_path_style           = true

  endpoints {
    cloudwatch     = var.endpoint
    cloudwatchlogs = var.endpoint
    dynamodb       = var.endpoint
    ec2            = var.endpoint
    events         = var.endpoint
    iam            = var.endpoint
    kms            = var.endpoint
    lambda         = var.endpoint
    s3             = var.endpoint
    sfn            = var.endpoint
    sns            = var.endpoint
    sqs            = var.endpoint
    sts            = var.endpoint
  }

  default_tags {
    tags = {
      Project     = "smmu"
      Environment = "local"
      ManagedBy   = "terraform"
    }
  }
}

module "stack" {
  source = "../../modules/stack"

  enable_container_services = false
  bucket_name_suffix        = ""
  deletion_protection       = false
  force_destroy             = true
}
