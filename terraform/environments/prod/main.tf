# Feedline, one environment: the modules composed. Every environment has the same main.tf,
# variables.tf, outputs.tf and versions.tf (tests/infra checks that); what differs is env.tf
# (the name) and terraform.tfvars (sizes, retention, channels).

locals {
  name   = "feedline-${local.env}"
  labels = { app = "feedline", env = local.env, managed_by = "terraform" }
}

resource "google_project_service" "this" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "compute.googleapis.com",
    "cloudfunctions.googleapis.com",
    "composer.googleapis.com",
    "dataflow.googleapis.com",
    "iam.googleapis.com",
    "logging.googleapis.com",
    "monitoring.googleapis.com",
    "pubsub.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}

# Who read or wrote which object: Cloud Audit Logs data access logs for Cloud Storage (instead of
# legacy bucket usage logs, see the checkov skips in terraform/README.md).
resource "google_project_iam_audit_config" "storage" {
  project = var.project_id
  service = "storage.googleapis.com"

  audit_log_config {
    log_type = "DATA_READ"
  }
  audit_log_config {
    log_type = "DATA_WRITE"
  }
}

# Provider-free: contracts + tables.json + sql/reporting -> datasets, tables, views, feeds.
module "feed_tables" {
  source     = "../../modules/feed_tables"
  project_id = var.project_id
}

# Provider-free: requirements.txt -> Composer pypi_packages.
module "pypi_requirements" {
  source = "../../modules/pypi_requirements"
}

module "service_accounts" {
  source         = "../../modules/service_accounts"
  project_id     = var.project_id
  account_prefix = "fl-${local.env}"

  depends_on = [google_project_service.this]
}

module "network" {
  source     = "../../modules/network"
  project_id = var.project_id
  region     = var.region
  name       = local.name

  depends_on = [google_project_service.this]
}

module "buckets" {
  source      = "../../modules/buckets"
  project_id  = var.project_id
  location    = var.region
  name_prefix = "${var.project_id}-${local.name}"
  members     = module.service_accounts.members
  retention   = var.retention
  labels      = local.labels
}

module "bigquery" {
  source                        = "../../modules/bigquery"
  project_id                    = var.project_id
  location                      = var.bigquery_location
  datasets                      = module.feed_tables.datasets
  tables                        = module.feed_tables.tables
  views                         = module.feed_tables.views
  members                       = module.service_accounts.members
  raw_partition_expiration_days = var.raw_partition_expiration_days
  deletion_protection           = var.deletion_protection
  labels                        = local.labels

  depends_on = [google_project_service.this]
}

module "artifact_registry" {
  source        = "../../modules/artifact_registry"
  project_id    = var.project_id
  location      = var.region
  repository_id = local.name
  members       = module.service_accounts.members
  labels        = local.labels

  depends_on = [google_project_service.this]
}

module "composer" {
  source                = "../../modules/composer"
  project_id            = var.project_id
  region                = var.region
  name                  = local.name
  image_version         = var.composer.image_version
  environment_size      = var.composer.environment_size
  resilience_mode       = var.composer.resilience_mode
  workloads             = var.composer.workloads
  service_account_email = module.service_accounts.emails.composer
  members               = module.service_accounts.members
  pypi_packages         = module.pypi_requirements.packages
  alert_connections     = var.airflow_alert_connections
  labels                = local.labels

  feedline = {
    env                      = local.env
    bq_location              = var.bigquery_location
    landing_bucket           = module.buckets.names.landing
    archive_bucket           = module.buckets.names.archive
    quarantine_bucket        = module.buckets.names.quarantine
    work_bucket              = module.buckets.names.work
    dataflow_service_account = module.service_accounts.emails.dataflow
    dataflow_subnetwork      = module.network.dataflow_subnetwork
  }

  # Composer 3 checks its account's roles (composer.worker, service agent grant) at creation.
  depends_on = [module.service_accounts]
}

module "trigger" {
  source                = "../../modules/trigger"
  project_id            = var.project_id
  region                = var.region
  name_prefix           = local.name
  landing_bucket        = module.buckets.landing
  service_account_email = module.service_accounts.emails.trigger
  build_service_account = module.service_accounts.ids.cloudbuild
  members               = module.service_accounts.members
  labels                = local.labels

  source_archive = {
    bucket = var.trigger_source_bucket
    object = var.trigger_source_object
  }

  environment_variables = {
    FEEDLINE_ENV             = local.env
    FEEDLINE_AIRFLOW_API_URL = module.composer.airflow_uri
    # feed -> { dag_id, file_pattern }: derived from the contracts, like everything else.
    FEEDLINE_FEEDS = jsonencode({
      for feed, f in module.feed_tables.feeds : feed => { dag_id = f.dag_id, file_pattern = f.file_pattern }
    })
  }
}

module "monitoring" {
  source                       = "../../modules/monitoring"
  project_id                   = var.project_id
  env                          = local.env
  composer_environment         = module.composer.name
  feeds                        = module.feed_tables.feeds
  slack                        = var.slack
  pagerduty_service_key_secret = var.pagerduty_service_key_secret

  depends_on = [google_project_service.this]
}
