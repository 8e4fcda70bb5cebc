terraform {
  required_version = ">= 1.6.0"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.80"
    }
  }

  # The bootstrap's own state stays local (it creates the remote backend). Keep terraform.tfstate safe, or move it
  # into the new bucket afterwards (docs/deploy.md).
}
