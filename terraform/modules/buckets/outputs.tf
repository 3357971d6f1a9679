output "names" {
  description = "Bucket key (landing, archive, quarantine, dataflow) -> bucket name."
  value       = { for k, b in google_storage_bucket.this : k => b.name }
}

output "landing" {
  description = "Name of the landing bucket (producers write here; finalize events start the DAGs)."
  value       = google_storage_bucket.this["landing"].name
}

output "dataflow" {
  description = "Name of the Dataflow scratch bucket (temp/, staging/, batches/, templates/)."
  value       = google_storage_bucket.this["dataflow"].name
}
