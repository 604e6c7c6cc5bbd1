terraform {
  required_version = "= 1.11.4"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "= 6.0.0"
    }
  }

  # Local state on purpose: this root creates the remote state backend itself. Keep the
  # resulting terraform.tfstate in a safe place (docs/operations.md, "Bootstrap").
}
