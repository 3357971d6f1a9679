variable "project_id" {
  description = "Project that owns the datasets."
  type        = string
}

variable "location" {
  description = "BigQuery location of every dataset, e.g. EU."
  type        = string
}

variable "datasets" {
  description = "Dataset role (raw, staging, reporting, ops) -> dataset name: the feed_tables module's datasets output."
  type        = map(string)

  validation {
    condition     = alltrue([for role in ["raw", "staging", "reporting", "ops"] : contains(keys(var.datasets), role)])
    error_message = "datasets must name the raw, staging, reporting and ops datasets (tables.json)."
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
  description = "Default partition expiration of the raw dataset (raw and deadletter history). Null = keep forever."
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
