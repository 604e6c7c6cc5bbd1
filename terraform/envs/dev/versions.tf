terraform {
  # Pinned: CI (terraform.yml) installs exactly this version.
  required_version = "= 1.11.4"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 6.0.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "= 3.7.2"
    }
  }

  # State in S3, locked in DynamoDB; both created by terraform/bootstrap. The bucket name holds
  # the account id, so it is given at init: -backend-config="bucket=idgraph-tfstate-<account>".
  backend "s3" {
    key            = "idgraph/dev/terraform.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "idgraph-terraform-locks"
    encrypt        = true
  }
}
