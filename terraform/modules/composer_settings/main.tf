# What the Composer environment's Airflow looks up in Secret Manager: the alert connections and
# nothing else. Every other connection id (google_cloud_default of every Google operator) is not
# asked for, so no 403 is logged (the composer account may read only the alert secrets) and
# Airflow finds it where Composer keeps it, in its database.

locals {
  connection_ids = compact([var.alert_connections.slack, var.alert_connections.pagerduty])

  secrets_backend = "feedline.orchestrate.secrets_backend.LookupPatternSecretManagerBackend"
  secrets_backend_kwargs = {
    connections_prefix         = "airflow-connections"
    sep                        = "-"
    connections_lookup_pattern = "^(${join("|", local.connection_ids)})$"
    # No Airflow variables or config values live in Secret Manager.
    variables_prefix = null
    config_prefix    = null
  }
}
