output "connection_ids" {
  description = "The alert connection ids, each read from the secret airflow-connections-<id>."
  value       = local.connection_ids
}

output "secrets_backend" {
  description = "Import path of the secrets backend class (plugins/feedline/orchestrate/secrets_backend.py)."
  value       = local.secrets_backend
}

output "secrets_backend_kwargs" {
  description = "Its backend_kwargs (a map; composer passes it jsonencoded)."
  value       = local.secrets_backend_kwargs
}
