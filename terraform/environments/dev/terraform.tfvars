# dev: small, cheap, disposable data; Slack only.
# region: Cloud Build's _REGION overrides it (-var); the rest is modules/platform's settings.
region = "europe-west1"

settings = {
  composer = {
    image_version    = "composer-3-airflow-3"
    environment_size = "ENVIRONMENT_SIZE_SMALL"
  }

  retention = {
    archive_days    = 30
    quarantine_days = 30
  }

  raw_partition_expiration_days = 30
  deletion_protection           = true

  slack = {
    channel_name      = "#feedline-dev"
    auth_token_secret = "feedline-slack-token"
  }

  # Airflow reads the Slack connection from the secret airflow-connections-feedline_slack.
  airflow_alert_connections = { slack = "feedline_slack" }
}
