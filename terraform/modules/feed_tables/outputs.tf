output "datasets" {
  description = "Dataset role (raw, staging, reporting, ops) -> dataset name, from tables.json."
  value       = local.datasets
}

output "feeds" {
  description = "Feed name -> what other modules need from its contract (DAG id, file pattern, deadletter threshold)."
  value       = local.feeds
}

output "tables" {
  description = "\"<feed>.<kind>\" -> dataset_id, table_id, fields (name/type/mode[/description]), partition_field/type, cluster_by."
  value       = local.tables
}

output "views" {
  description = "\"<feed>.<view>\" -> dataset_id, table_id, rendered query, partition_field, cluster_by, refresh_interval_ms."
  value       = local.views
}
