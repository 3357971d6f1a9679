# Feedline dev: modules/platform with this environment's name (env.tf) and settings
# (terraform.tfvars). Nothing else belongs here; tools/infra/environments.py checks that.
module "platform" {
  source         = "../../modules/platform"
  env            = local.env
  project_id     = var.project_id
  region         = var.region
  trigger_source = { bucket = var.trigger_source_bucket, object = var.trigger_source_object }
  settings       = var.settings
}
