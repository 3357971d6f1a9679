output "dataset_ids" {
  description = "Dataset role -> dataset id."
  value       = { for k, d in google_bigquery_dataset.this : k => d.dataset_id }
}

output "table_ids" {
  description = "\"<feed>.<kind>\" -> \"<dataset>.<table>\"."
  value       = { for k, t in google_bigquery_table.table : k => "${t.dataset_id}.${t.table_id}" }
}

output "view_ids" {
  description = "\"<feed>.<view>\" -> \"<dataset>.<view>\"."
  value       = { for k, v in google_bigquery_table.view : k => "${v.dataset_id}.${v.table_id}" }
}
