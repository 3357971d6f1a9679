variable "project_id" {
  description = "Project whose logs and metrics are watched."
  type        = string
}

variable "env" {
  description = "Environment name (dev, prod): part of metric names and alert titles."
  type        = string
}

variable "composer_environment" {
  description = "Name of the Composer environment whose Airflow task logs are read."
  type        = string
}

variable "dataflow_job_prefix" {
  description = "Name prefix of Feedline's Dataflow jobs."
  type        = string
  default     = "feedline-"
}

variable "feeds" {
  description = "The feed_tables module's feeds output: each feed's dag_id and deadletter_threshold."
  type = map(object({
    dag_id               = string
    deadletter_threshold = number
  }))
}

variable "audit_log_marker" {
  description = "First word of the audit task's summary log line (see README)."
  type        = string
  default     = "feedline_audit"
}

variable "slack" {
  description = "Slack channel and the Secret Manager secret (id or projects/.../secrets/...) holding the Slack app's OAuth token."
  type = object({
    channel_name      = string
    auth_token_secret = string
  })
}

variable "pagerduty_service_key_secret" {
  description = "Secret Manager secret holding the PagerDuty integration key; null = no PagerDuty (dev)."
  type        = string
  default     = null
}
