variable "project_id" {
  description = "Project that owns the datasets."
  type        = string
}

variable "location" {
  description = "BigQuery location of every dataset, e.g. EU."
  type        = string
}

variable "datasets" {
  description = "Dataset role -> settings: the feed_tables module's dataset_settings output (tables.json)."
  type = map(object({
    dataset_id                  = string
    description                 = string
    default_table_expiration_ms = number
    expire_partitions           = bool
  }))

  validation {
    condition     = alltrue([for role in ["raw", "staging", "reporting", "ops", "load"] : contains(keys(var.datasets), role)])
    error_message = "datasets must include the raw, staging, reporting, ops and load datasets the DAGs use (tables.json)."
  }
}

variable "dataset_grants" {
  description = "\"<dataset role> <sa> <role>\" -> { dataset, sa, role }: the feed_tables module's dataset_grants output."
  type = map(object({
    dataset = string
    sa      = string
    role    = string
  }))

  validation {
    condition     = alltrue([for g in values(var.dataset_grants) : contains(["roles/bigquery.dataEditor", "roles/bigquery.dataViewer"], g.role)])
    error_message = "dataset grants give roles/bigquery.dataEditor (writers) or roles/bigquery.dataViewer (readers) only."
  }
}

variable "tables" {
  description = "The feed_tables module's tables output (\"<feed>.<kind>\" -> layout)."
  type = map(object({
    feed            = string
    kind            = string
    dataset_id      = string
    table_id        = string
    description     = string
    schema          = string
    partition_field = string
    partition_type  = string
    cluster_by      = list(string)
  }))
}

variable "views" {
  description = "The feed_tables module's views output (\"<feed>.<view>\" -> materialized view)."
  type = map(object({
    feed                = string
    dataset_id          = string
    table_id            = string
    query               = string
    partition_field     = string
    cluster_by          = list(string)
    refresh_interval_ms = number
  }))
}

variable "members" {
  description = "Service account key (composer) -> IAM member, from the service_accounts module."
  type        = map(string)
}

variable "raw_partition_expiration_days" {
  description = "Default partition expiration of the datasets with expire_partitions in tables.json (raw: raw and deadletter history). Null = keep forever."
  type        = number
  default     = null
}

variable "deletion_protection" {
  description = "Refuse to destroy tables (true everywhere but throw-away environments)."
  type        = bool
  default     = true
}

variable "labels" {
  description = "Labels on every dataset and table."
  type        = map(string)
  default     = {}
}
