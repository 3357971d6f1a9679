variable "project_id" {
  description = "Project of the environment."
  type        = string
}

variable "region" {
  description = "Region of the environment."
  type        = string
}

variable "name" {
  description = "Environment name, e.g. feedline-dev."
  type        = string
}

variable "image_version" {
  description = "Composer 3 image with Airflow 3, e.g. composer-3-airflow-3.1.0-build.2 (pin a build in prod)."
  type        = string

  validation {
    condition     = can(regex("^composer-3(\\.[0-9]+\\.[0-9]+)?-airflow-3(\\.[0-9]+){0,2}(-build\\.[0-9]+)?$", var.image_version))
    error_message = "image_version must be a Composer 3 image with Airflow 3 (composer-3-airflow-3...)."
  }
}

variable "environment_size" {
  description = "ENVIRONMENT_SIZE_SMALL, _MEDIUM or _LARGE (size of the Airflow database and web server)."
  type        = string
  default     = "ENVIRONMENT_SIZE_SMALL"
}

variable "resilience_mode" {
  description = "HIGH_RESILIENCE for zone-redundant prod environments; null = standard."
  type        = string
  default     = null
}

variable "workloads" {
  description = "CPU (vCPU), memory and storage (GB) of the Airflow components; worker count bounds."
  type = object({
    scheduler     = optional(object({ cpu = number, memory_gb = number, storage_gb = number, count = number }), { cpu = 0.5, memory_gb = 2, storage_gb = 1, count = 1 })
    dag_processor = optional(object({ cpu = number, memory_gb = number, storage_gb = number, count = number }), { cpu = 0.5, memory_gb = 2, storage_gb = 1, count = 1 })
    triggerer     = optional(object({ cpu = number, memory_gb = number, count = number }), { cpu = 0.5, memory_gb = 1, count = 1 })
    web_server    = optional(object({ cpu = number, memory_gb = number, storage_gb = number }), { cpu = 0.5, memory_gb = 2, storage_gb = 1 })
    worker        = optional(object({ cpu = number, memory_gb = number, storage_gb = number, min_count = number, max_count = number }), { cpu = 1, memory_gb = 4, storage_gb = 2, min_count = 1, max_count = 3 })
  })
  default = {}
}

variable "service_account_email" {
  description = "E-mail of the composer account (runs every Airflow component)."
  type        = string
}

variable "feedline" {
  description = "Settings the DAGs read from FEEDLINE_* environment variables (plugins/feedline/settings.py)."
  type = object({
    env                      = string
    bq_location              = string
    landing_bucket           = string
    archive_bucket           = string
    quarantine_bucket        = string
    work_bucket              = string
    dataflow_service_account = string
    dataflow_subnetwork      = string
  })
}

variable "alert_connections" {
  description = "Airflow connection ids of the alert channels; each is read from the Secret Manager secret airflow-connections-<id>. pagerduty = null: no paging."
  type = object({
    slack     = string
    pagerduty = optional(string)
  })
}

variable "pypi_packages" {
  description = "The pypi_requirements module's packages output (from requirements.txt)."
  type        = map(string)
}

variable "airflow_config_overrides" {
  description = "Extra Airflow settings (\"section-key\" -> value), merged over this module's defaults."
  type        = map(string)
  default     = {}
}

variable "members" {
  description = "Service account key (composer) -> IAM member, from the service_accounts module."
  type        = map(string)
}

variable "labels" {
  description = "Labels on the environment."
  type        = map(string)
  default     = {}
}
