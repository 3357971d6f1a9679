# prod: zone-redundant Composer, long retention, Slack and PagerDuty.
# region: Cloud Build's _REGION overrides it (-var); the rest is modules/platform's settings.
region = "europe-west1"

settings = {
  composer = {
    # Unpinned until Composer lists a build of the local Airflow (terraform/README.md, "Composer image").
    image_version    = "composer-3-airflow-3"
    environment_size = "ENVIRONMENT_SIZE_MEDIUM"
    resilience_mode  = "HIGH_RESILIENCE"
    workloads = {
      scheduler     = { cpu = 1, memory_gb = 4, storage_gb = 1, count = 2 }
      dag_processor = { cpu = 1, memory_gb = 4, storage_gb = 1, count = 2 }
      triggerer     = { cpu = 0.5, memory_gb = 1, count = 2 }
      web_server    = { cpu = 1, memory_gb = 4, storage_gb = 1 }
      worker        = { cpu = 2, memory_gb = 8, storage_gb = 5, min_count = 2, max_count = 6 }
    }
  }

  retention = {
    archive_days    = 400
    quarantine_days = 180
  }

  # Raw history is the audit trail of every batch: kept.
  raw_partition_expiration_days = null
  deletion_protection           = true

  # Cloud Monitoring channels made at bootstrap (terraform/README.md); looked up by display name.
  notification_channels = {
    slack     = "Feedline prod: Slack"
    pagerduty = "Feedline prod: PagerDuty"
  }

  # Secrets airflow-connections-feedline_slack and airflow-connections-feedline_pagerduty.
  airflow_alert_connections = {
    slack     = "feedline_slack"
    pagerduty = "feedline_pagerduty"
  }
}
