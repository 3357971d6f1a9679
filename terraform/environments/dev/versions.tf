terraform {
  required_version = ">= 1.5"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.30, < 7.0"
    }
  }

  # Bucket and prefix come from Cloud Build: terraform init -backend-config=bucket=... -backend-config=prefix=...
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
