# dev: small, cheap, disposable data; Slack only.
# region: Cloud Build's _REGION overrides it (-var); the rest is modules/platform's settings.
region = "europe-west1"

settings = {
  composer = {
    # Unpinned until Composer lists a build of the local Airflow (terraform/README.md, "Composer image").
    image_version    = "composer-3-airflow-3"
    environment_size = "ENVIRONMENT_SIZE_SMALL"
  }

  retention = {
    archive_days    = 30
    quarantine_days = 30
  }

  raw_partition_expiration_days = 30
  deletion_protection           = true

  # Cloud Monitoring channels made at bootstrap (terraform/README.md); looked up by display name.
  notification_channels = {
    slack = "Feedline dev: Slack"
  }

  # Airflow reads the Slack connection from the secret airflow-connections-feedline_slack.
  airflow_alert_connections = { slack = "feedline_slack" }
}
