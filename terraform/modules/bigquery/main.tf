# Datasets, per-feed tables and reporting materialized views. Nothing here names a feed or a
# column: tables and views come from the feed_tables module (contracts + tables.json).

locals {
  dataset_settings = {
    raw = {
      description        = "Feedline: every valid row as loaded, and every rejected row with its reason (history per batch)."
      partition_expiry_d = var.raw_partition_expiration_days
      table_expiry_d     = null
    }
    staging = {
      description        = "Feedline: current state per key of every feed (MERGE target)."
      partition_expiry_d = null
      table_expiry_d     = null
    }
    reporting = {
      description        = "Feedline: reporting materialized views over staging."
      partition_expiry_d = null
      table_expiry_d     = null
    }
    ops = {
      description        = "Feedline: audit rows (rows read = loaded + deadlettered, per file and attempt)."
      partition_expiry_d = null
      table_expiry_d     = null
    }
    # One load table per batch and Beam output; drop_load_tables removes a settled batch's,
    # this expiration what a failed batch left behind (long enough to Clear and inspect it).
    load = {
      description        = "Feedline: per-batch load tables (Beam outputs), dropped when the batch is settled."
      partition_expiry_d = null
      table_expiry_d     = 7
    }
  }

  # Airflow loads raw/deadletter, MERGEs into staging, refreshes the views and writes audit rows.
  grants = [
    { dataset = "raw", sa = "composer", role = "roles/bigquery.dataEditor" },
    { dataset = "staging", sa = "composer", role = "roles/bigquery.dataEditor" },
    { dataset = "reporting", sa = "composer", role = "roles/bigquery.dataEditor" },
    { dataset = "ops", sa = "composer", role = "roles/bigquery.dataEditor" },
    { dataset = "load", sa = "composer", role = "roles/bigquery.dataEditor" },
  ]
}

resource "google_bigquery_dataset" "this" {
  for_each = var.datasets

  project                         = var.project_id
  dataset_id                      = each.value
  location                        = var.location
  description                     = local.dataset_settings[each.key].description
  default_partition_expiration_ms = local.dataset_settings[each.key].partition_expiry_d == null ? null : local.dataset_settings[each.key].partition_expiry_d * 86400000
  default_table_expiration_ms     = local.dataset_settings[each.key].table_expiry_d == null ? null : local.dataset_settings[each.key].table_expiry_d * 86400000
  max_time_travel_hours           = 168
  delete_contents_on_destroy      = false
  labels                          = merge(var.labels, { dataset_role = each.key })
}

resource "google_bigquery_dataset_iam_member" "this" {
  for_each = { for g in local.grants : "${g.dataset} ${g.sa} ${g.role}" => g }

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
