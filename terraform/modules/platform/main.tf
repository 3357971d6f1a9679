# Feedline on one project: the modules composed and wired. Every environment is a thin root
# (terraform/environments/<env>) that configures the backend and provider and calls this module
# once with its name (env.tf) and settings (terraform.tfvars).
# Every module that creates resources depends on google_project_service.this: on a new project
# the first apply would otherwise race API enablement (tests/infra checks this).

locals {
  name   = "feedline-${var.env}"
  labels = { app = "feedline", env = var.env, managed_by = "terraform" }
}

resource "google_project_service" "this" {
  for_each = toset([
    "artifactregistry.googleapis.com",
    "bigquery.googleapis.com",
    "cloudbuild.googleapis.com",
    "compute.googleapis.com",
    "cloudfunctions.googleapis.com",
    "cloudresourcemanager.googleapis.com", # project IAM, data.google_project
    "composer.googleapis.com",
    "dataflow.googleapis.com",
    "datalineage.googleapis.com", # Composer's lineage integration
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

  depends_on = [google_project_service.this]
}

# Provider-free: contracts + tables.json + sql/reporting -> datasets, tables, views, feeds.
module "feed_tables" {
  source     = "../feed_tables"
  project_id = var.project_id
}

# Provider-free: events.json -> the log-based metric filters on Feedline's own events.
module "events" {
  source     = "../events"
  project_id = var.project_id
}

# Provider-free: requirements.txt -> Composer pypi_packages.
module "pypi_requirements" {
  source = "../pypi_requirements"
}

module "service_accounts" {
  source         = "../service_accounts"
  project_id     = var.project_id
  account_prefix = "fl-${var.env}"

  depends_on = [google_project_service.this]
}

module "network" {
  source     = "../network"
  project_id = var.project_id
  region     = var.region
  name       = local.name

  depends_on = [google_project_service.this]
}

module "buckets" {
  source      = "../buckets"
  project_id  = var.project_id
  location    = var.region
  name_prefix = "${var.project_id}-${local.name}"
  members     = module.service_accounts.members
  retention   = var.settings.retention
  labels      = local.labels

  depends_on = [google_project_service.this]
}

module "bigquery" {
  source                        = "../bigquery"
  project_id                    = var.project_id
  location                      = var.settings.bigquery_location
  datasets                      = module.feed_tables.dataset_settings
  dataset_grants                = module.feed_tables.dataset_grants
  tables                        = module.feed_tables.tables
  views                         = module.feed_tables.views
  members                       = module.service_accounts.members
  raw_partition_expiration_days = var.settings.raw_partition_expiration_days
  deletion_protection           = var.settings.deletion_protection
  labels                        = local.labels

  depends_on = [google_project_service.this]
}

module "artifact_registry" {
  source        = "../artifact_registry"
  project_id    = var.project_id
  location      = var.region
  repository_id = local.name
  members       = module.service_accounts.members
  labels        = local.labels

  depends_on = [google_project_service.this]
}

module "composer" {
  source                = "../composer"
  project_id            = var.project_id
  region                = var.region
  name                  = local.name
  image_version         = var.settings.composer.image_version
  environment_size      = var.settings.composer.environment_size
  resilience_mode       = var.settings.composer.resilience_mode
  workloads             = var.settings.composer.workloads
  service_account_email = module.service_accounts.emails.composer
  members               = module.service_accounts.members
  pypi_packages         = module.pypi_requirements.packages
  alert_connections     = var.settings.airflow_alert_connections
  labels                = local.labels

  feedline = {
    env                      = var.env
    bq_location              = var.settings.bigquery_location
    landing_bucket           = module.buckets.names.landing
    archive_bucket           = module.buckets.names.archive
    quarantine_bucket        = module.buckets.names.quarantine
    work_bucket              = module.buckets.names.work
    dataflow_service_account = module.service_accounts.emails.dataflow
    dataflow_subnetwork      = module.network.dataflow_subnetwork
  }

  # Composer 3 checks its account's roles (composer.worker, service agent grant) at creation.
  depends_on = [module.service_accounts, google_project_service.this]
}

module "trigger" {
  source                = "../trigger"
  project_id            = var.project_id
  region                = var.region
  name_prefix           = local.name
  landing_bucket        = module.buckets.landing
  service_account_email = module.service_accounts.emails.trigger
  build_service_account = module.service_accounts.ids.cloudbuild
  members               = module.service_accounts.members
  labels                = local.labels

  source_archive = {
    bucket = var.trigger_source.bucket
    object = var.trigger_source.object
  }

  environment_variables = {
    FEEDLINE_ENV             = var.env
    FEEDLINE_AIRFLOW_API_URL = module.composer.airflow_uri
    # feed -> { dag_id, file_pattern }: derived from the contracts, like everything else.
    FEEDLINE_FEEDS = jsonencode({
      for feed, f in module.feed_tables.feeds : feed => { dag_id = f.dag_id, file_pattern = f.file_pattern }
    })
  }

  # Topics, subscriptions and service-agent grants need the Pub/Sub, Cloud Run, Functions APIs.
  depends_on = [google_project_service.this]
}

module "monitoring" {
  source                = "../monitoring"
  project_id            = var.project_id
  env                   = var.env
  composer_environment  = module.composer.name
  feeds                 = module.feed_tables.feeds
  events                = module.events
  notification_channels = var.settings.notification_channels

  depends_on = [google_project_service.this]
}
