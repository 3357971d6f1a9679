# The root's own part: state backend and provider configuration. Terraform and provider versions
# are pinned in modules/platform/versions.tf.
terraform {
  # Bucket and prefix (feedline/prod) come from Cloud Build: terraform init -backend-config=...
  backend "gcs" {}
}

provider "google" {
  project = var.project_id
  region  = var.region
}
