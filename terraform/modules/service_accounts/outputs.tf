output "emails" {
  description = "Account key (composer, dataflow, trigger, cloudbuild) -> e-mail."
  value       = { for k, sa in google_service_account.this : k => sa.email }
}

output "members" {
  description = "Account key -> IAM member string (\"serviceAccount:...\"), for resource-level grants."
  value       = local.members
}

output "ids" {
  description = "Account key -> fully qualified name (projects/.../serviceAccounts/...)."
  value       = { for k, sa in google_service_account.this : k => sa.name }
}
