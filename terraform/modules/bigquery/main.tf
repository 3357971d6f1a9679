# Datasets, per-feed tables and reporting materialized views. Nothing here names a feed or a
# column: tables and views come from the feed_tables module (contracts + tables.json).

# Every dataset tables.json declares (feed_tables' dataset_settings), with its settings, and the
# grants its writers and readers need (feed_tables' dataset_grants): no dataset is named here.
resource "google_bigquery_dataset" "this" {
  for_each = var.datasets

  project                         = var.project_id
  dataset_id                      = each.value.dataset_id
  location                        = var.location
  description                     = each.value.description
  default_table_expiration_ms     = each.value.default_table_expiration_ms
  default_partition_expiration_ms = each.value.expire_partitions && var.raw_partition_expiration_days != null ? var.raw_partition_expiration_days * 86400000 : null
  max_time_travel_hours           = 168
  delete_contents_on_destroy      = false
  labels                          = merge(var.labels, { dataset_role = each.key })
}

resource "google_bigquery_dataset_iam_member" "this" {
  for_each = var.dataset_grants

  project    = var.project_id
  dataset_id = google_bigquery_dataset.this[each.value.dataset].dataset_id
  role       = each.value.role
  member     = var.members[each.value.sa]
}

resource "google_bigquery_table" "table" {
  for_each = var.tables

  project             = var.project_id
  dataset_id          = each.value.dataset_id
  table_id            = each.value.table_id
  description         = each.value.description
  deletion_protection = var.deletion_protection
  labels              = merge(var.labels, { feed = each.value.feed, table_kind = each.value.kind })
  schema              = each.value.schema
  clustering          = length(each.value.cluster_by) > 0 ? each.value.cluster_by : null

  dynamic "time_partitioning" {
    for_each = each.value.partition_field == null ? [] : [each.value]
    content {
      field = time_partitioning.value.partition_field
      type  = time_partitioning.value.partition_type
    }
  }

  depends_on = [google_bigquery_dataset.this]
}

# Materialized views read staging tables, so they are created after them.
resource "google_bigquery_table" "view" {
  for_each = var.views

  project             = var.project_id
  dataset_id          = each.value.dataset_id
  table_id            = each.value.table_id
  description         = "Feedline reporting view of the ${each.value.feed} feed (sql/reporting/${each.value.table_id}.sql)."
  deletion_protection = var.deletion_protection
  labels              = merge(var.labels, { feed = each.value.feed, table_kind = "reporting" })
  clustering          = length(each.value.cluster_by) > 0 ? each.value.cluster_by : null

  materialized_view {
    query               = each.value.query
    enable_refresh      = true
    refresh_interval_ms = each.value.refresh_interval_ms
  }

  dynamic "time_partitioning" {
    for_each = each.value.partition_field == null ? [] : [each.value]
    content {
      field = time_partitioning.value.partition_field
      type  = "DAY"
    }
  }

  depends_on = [google_bigquery_table.table]
}
