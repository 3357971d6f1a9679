output "composer_bucket" {
  description = "Composer's bucket: Cloud Build syncs build/bundle/{dags,plugins,data} into it."
  value       = module.composer.bucket
}

output "composer_dag_gcs_prefix" {
  description = "gs://<composer bucket>/dags."
  value       = module.composer.dag_gcs_prefix
}

output "airflow_uri" {
  description = "Airflow UI and REST API."
  value       = module.composer.airflow_uri
}

output "buckets" {
  description = "Feedline bucket names (landing, archive, quarantine, work)."
  value       = module.buckets.names
}

output "flex_template_image" {
  description = "Flex template image name without tag."
  value       = module.artifact_registry.flex_template_image
}

output "flex_template_spec" {
  description = "Where Cloud Build writes the flex template spec (the DAGs launch it)."
  value       = module.composer.flex_template_spec
}

output "contracts_uri" {
  description = "Where Cloud Build syncs contracts/ for the Beam job (gs://<work bucket>/contracts)."
  value       = module.composer.contracts_uri
}

output "service_accounts" {
  description = "Service account e-mails."
  value       = module.service_accounts.emails
}

output "trigger_function_url" {
  description = "feedline-trigger endpoint (internal ingress)."
  value       = module.trigger.function_url
}

output "tables" {
  description = "Tables created per feed."
  value       = module.bigquery.table_ids
}
