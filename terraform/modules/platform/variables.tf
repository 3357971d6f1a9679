variable "env" {
  description = "Environment name (dev, prod, ...): names, labels, account prefix, FEEDLINE_ENV."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9]{1,14}$", var.env))
    error_message = "env must be 2-15 lowercase letters and digits, starting with a letter (it is part of account ids)."
  }
}

variable "project_id" {
  description = "Project of this environment (Cloud Build passes $PROJECT_ID)."
  type        = string
}

variable "region" {
  description = "Region of Composer, Dataflow, the function and the buckets."
  type        = string
}

variable "trigger_source" {
  description = "Bucket and object of the zipped triggers/ (Cloud Build's artifact bucket, content-hash object name)."
  type = object({
    bucket = string
    object = string
  })
}

variable "settings" {
  description = <<-EOT
    What differs between environments (the environment's terraform.tfvars):
    bigquery_location: BigQuery location of the datasets;
    composer: Composer image and sizing (see modules/composer);
    retention: bucket retention in days (see modules/buckets);
    raw_partition_expiration_days: raw and deadletter history retention in days, null = keep;
    deletion_protection: protect BigQuery tables from terraform destroy (stated in every
    environment, so checkov sees it);
    notification_channels: display names of the Cloud Monitoring Slack and PagerDuty channels made
    at bootstrap (their tokens never pass through Terraform), pagerduty = null: no paging;
    airflow_alert_connections: Airflow connection ids of the alert channels, each stored in the
    secret airflow-connections-<id>; pagerduty = null: no paging.
  EOT
  type = object({
    bigquery_location = optional(string, "EU")
    composer = object({
      image_version    = string
      environment_size = optional(string, "ENVIRONMENT_SIZE_SMALL")
      resilience_mode  = optional(string)
      workloads        = optional(any, {})
    })
    retention = object({
      archive_days    = number
      quarantine_days = number
    })
    raw_partition_expiration_days = optional(number)
    deletion_protection           = bool
    notification_channels = object({
      slack     = string
      pagerduty = optional(string)
    })
    airflow_alert_connections = optional(object({
      slack     = string
      pagerduty = optional(string)
    }), { slack = "feedline_slack" })
  })
}
