terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # Remote state in the bucket made by infra/bootstrap, locked with its DynamoDB table. Partial configuration:
  #   terraform -chdir=infra/bootstrap output -raw backend_config > infra/envs/dev/backend.hcl
  #   terraform -chdir=infra/envs/dev init -backend-config=backend.hcl
  backend "s3" {
    key     = "smmu/dev/terraform.tfstate"
    encrypt = true
  }
}
