# No provider configuration here: the environment roots configure the google provider and the
# backend; this module only pins the versions it needs.
terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.30, < 7.0"
    }
  }
}
