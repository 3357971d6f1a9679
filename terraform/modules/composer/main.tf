# Composer 3 environment (Airflow 3). The DAGs and the feedline package are synced to its bucket
# by Cloud Build (tools/bundle.py builds the layout); contracts and SQL go to the bucket's data/
# folder, which Composer mounts at /home/airflow/gcs/data on every Airflow component.

locals {
  gcs_mount = "/home/airflow/gcs"
  work      = "gs://${var.feedline.work_bucket}"

  # Names as plugins/feedline/settings.py reads them.
  env_variables = merge({
    FEEDLINE_ENV                 = var.feedline.env
    FEEDLINE_PROJECT             = var.project_id
    FEEDLINE_REGION              = var.region
    FEEDLINE_BQ_LOCATION         = var.feedline.bq_location
    FEEDLINE_LANDING_BUCKET      = var.feedline.landing_bucket
    FEEDLINE_ARCHIVE_BUCKET      = var.feedline.archive_bucket
    FEEDLINE_QUARANTINE_BUCKET   = var.feedline.quarantine_bucket
    FEEDLINE_WORK_BUCKET         = var.feedline.work_bucket
    FEEDLINE_RUNNER              = "dataflow"
    FEEDLINE_TEMPLATE_SPEC       = "${local.work}/templates/feedline-ingest.json"
    FEEDLINE_DATAFLOW_SA         = var.feedline.dataflow_service_account
    FEEDLINE_DATAFLOW_SUBNETWORK = var.feedline.dataflow_subnetwork
    # The DAGs read contracts and SQL from the bucket's data/ folder (mounted on every Airflow
    # component); the Beam job reads its contract from the work bucket (Cloud Build syncs both).
    FEEDLINE_CONTRACTS_DIR = "${local.gcs_mount}/data/contracts"
    FEEDLINE_SQL_DIR       = "${local.gcs_mount}/data/sql"
    FEEDLINE_CONTRACTS_URI = "${local.work}/contracts"
    FEEDLINE_SLACK_CONN_ID = var.alert_connections.slack
    }, {
    for k, v in { FEEDLINE_PAGERDUTY_CONN_ID = var.alert_connections.pagerduty } : k => v if v != null
  })

  airflow_config_overrides = merge({
    # Alert connections (Slack webhook, PagerDuty key) come from Secret Manager, and only they
    # are looked up there (modules/composer_settings).
    "secrets-backend"        = module.settings.secrets_backend
    "secrets-backend_kwargs" = jsonencode(module.settings.secrets_backend_kwargs)
    # Backfills are explicit (a person asks for them); a new DAG does not replay history.
    "scheduler-catchup_by_default" = "False"
  }, var.airflow_config_overrides)
}

# Provider-free: the secrets backend and its lookup pattern (evaluated offline by tests/infra).
module "settings" {
  source            = "../composer_settings"
  alert_connections = var.alert_connections
}

resource "google_composer_environment" "this" {
  project = var.project_id
  region  = var.region
  name    = var.name
  labels  = var.labels

  config {
    environment_size = var.environment_size
    resilience_mode  = var.resilience_mode

    software_config {
      image_version            = var.image_version
      env_variables            = local.env_variables
      pypi_packages            = var.pypi_packages
      airflow_config_overrides = local.airflow_config_overrides
      # OpenLineage events of every task to Dataplex lineage (the Google operators' and the
      # ones Feedline's tasks add: plugins/feedline/orchestrate/lineage.py).
      cloud_data_lineage_integration {
        enabled = true
      }
    }

    node_config {
      service_account = var.service_account_email
    }

    workloads_config {
      scheduler {
        cpu        = var.workloads.scheduler.cpu
        memory_gb  = var.workloads.scheduler.memory_gb
        storage_gb = var.workloads.scheduler.storage_gb
        count      = var.workloads.scheduler.count
      }
      dag_processor {
        cpu        = var.workloads.dag_processor.cpu
        memory_gb  = var.workloads.dag_processor.memory_gb
        storage_gb = var.workloads.dag_processor.storage_gb
        count      = var.workloads.dag_processor.count
      }
      # Deferrable GCS sensors wait in the triggerer, not in worker slots.
      triggerer {
        cpu       = var.workloads.triggerer.cpu
        memory_gb = var.workloads.triggerer.memory_gb
        count     = var.workloads.triggerer.count
      }
      web_server {
        cpu        = var.workloads.web_server.cpu
        memory_gb  = var.workloads.web_server.memory_gb
        storage_gb = var.workloads.web_server.storage_gb
      }
      worker {
        cpu        = var.workloads.worker.cpu
        memory_gb  = var.workloads.worker.memory_gb
        storage_gb = var.workloads.worker.storage_gb
        min_count  = var.workloads.worker.min_count
        max_count  = var.workloads.worker.max_count
      }
    }
  }
}

# Airflow reads each alert connection from its own secret (secret-level grant).
resource "google_secret_manager_secret_iam_member" "connections" {
  for_each = toset(module.settings.connection_ids)

  project   = var.project_id
  secret_id = "airflow-connections-${each.value}"
  role      = "roles/secretmanager.secretAccessor"
  member    = var.members.composer
}
