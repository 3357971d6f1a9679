output "names" {
  description = "Bucket key (landing, archive, quarantine, work) -> bucket name."
  value       = { for k, b in google_storage_bucket.this : k => b.name }
}

output "landing" {
  description = "Name of the landing bucket (producers write here; finalize events start the DAGs)."
  value       = google_storage_bucket.this["landing"].name
}

output "work" {
  description = "Name of the work bucket (batches/, dataflow/ temp and staging, templates/, contracts/)."
  value       = google_storage_bucket.this["work"].name
}
