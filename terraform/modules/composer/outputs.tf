output "name" {
  description = "Environment name."
  value       = google_composer_environment.this.name
}

output "bucket" {
  description = "Composer's own bucket (created by Composer): Cloud Build syncs build/bundle into it."
  value       = regex("^gs://([^/]+)/", google_composer_environment.this.config[0].dag_gcs_prefix)[0]
}

output "dag_gcs_prefix" {
  description = "gs://<bucket>/dags: target of build/bundle/dags (plugins/ and data/ are beside it)."
  value       = google_composer_environment.this.config[0].dag_gcs_prefix
}

output "airflow_uri" {
  description = "Airflow web UI and REST API base URL."
  value       = google_composer_environment.this.config[0].airflow_uri
}

output "env_variables" {
  description = "The FEEDLINE_* variables the DAGs see."
  value       = local.env_variables
}

output "flex_template_spec" {
  description = "Where the DAGs expect the flex template spec (Cloud Build writes it there)."
  value       = local.env_variables.FEEDLINE_TEMPLATE_SPEC
}

output "contracts_uri" {
  description = "Where the Beam job reads contracts (Cloud Build syncs contracts/ there)."
  value       = local.env_variables.FEEDLINE_CONTRACTS_URI
}
