variable "project_id" {
  description = "Project whose logs and metrics are watched."
  type        = string
}

variable "env" {
  description = "Environment name (dev, prod): part of metric names and alert titles."
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

variable "events" {
  description = "The events module's outputs: where Feedline's own log entries are and the metric filters on them."
  type = object({
    resource_type = string
    audit_metrics = map(object({
      filter           = string
      value_extractor  = string
      label_extractors = map(string)
      description      = string
      linear           = object({ num_finite_buckets = number, width = number, offset = number })
    }))
    task_failures = object({
      filter           = string
      label_extractors = map(string)
    })
  })
}

variable "notification_channels" {
  description = "Display names of the Slack and PagerDuty notification channels made at bootstrap (terraform/README.md); pagerduty = null: no paging (dev)."
  type = object({
    slack     = string
    pagerduty = optional(string)
  })
}

variable "composer_environment" {
  description = "Name of the Composer environment (the DAG run duration chart)."
  type        = string
}
