variable "project_id" {
  description = "Project of this environment (Cloud Build passes $PROJECT_ID)."
  type        = string
}

variable "region" {
  description = "Region of Composer, Dataflow, the function and the buckets."
  type        = string
  default     = "europe-west1"
}

variable "bigquery_location" {
  description = "BigQuery location of the datasets."
  type        = string
  default     = "EU"
}

variable "composer" {
  description = "Composer image and sizing (see modules/composer)."
  type = object({
    image_version    = string
    environment_size = optional(string, "ENVIRONMENT_SIZE_SMALL")
    resilience_mode  = optional(string)
    workloads        = optional(any, {})
  })
}

variable "retention" {
  description = "Bucket retention in days (see modules/buckets)."
  type = object({
    archive_days    = number
    quarantine_days = number
  })
}

variable "raw_partition_expiration_days" {
  description = "Raw and deadletter history retention in days; null = keep."
  type        = number
  default     = null
}

variable "deletion_protection" {
  description = "Protect BigQuery tables from terraform destroy."
  type        = bool
  default     = true
}

variable "trigger_source_bucket" {
  description = "Bucket holding the zipped triggers/ (Cloud Build's artifact bucket)."
  type        = string
}

variable "trigger_source_object" {
  description = "Object name of the zipped triggers/ (content-hash name, computed by Cloud Build)."
  type        = string
}

variable "slack" {
  description = "Slack channel and the Secret Manager secret holding the Slack app token."
  type = object({
    channel_name      = string
    auth_token_secret = string
  })
}

variable "pagerduty_service_key_secret" {
  description = "Secret Manager secret holding the PagerDuty integration key; null = no paging."
  type        = string
  default     = null
}

variable "airflow_alert_connections" {
  description = "Airflow connection ids of the alert channels, each stored in the secret airflow-connections-<id>; pagerduty = null: no paging."
  type = object({
    slack     = string
    pagerduty = optional(string)
  })
  default = { slack = "feedline_slack" }
}
