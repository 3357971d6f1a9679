output "datasets" {
  description = "Dataset role (raw, staging, reporting, ops, load) -> dataset name, from tables.json."
  value       = local.datasets
}

output "dataset_settings" {
  description = "Dataset role -> dataset_id, description, default_table_expiration_ms (null = never), expire_partitions, from tables.json."
  value       = local.dataset_settings
}

output "dataset_grants" {
  description = "\"<dataset role> <sa> <role>\" -> { dataset, sa, role }: the writers and readers of each dataset in tables.json."
  value       = local.dataset_grants
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
