variable "project_id" {
  description = "Project of the topic, subscriptions and function."
  type        = string
}

variable "region" {
  description = "Region of the function."
  type        = string
}

variable "name_prefix" {
  description = "Prefix of the topic and subscription names, e.g. feedline-dev."
  type        = string
}

variable "function_name" {
  description = "Name of the Cloud Run function."
  type        = string
  default     = "feedline-trigger"
}

variable "landing_bucket" {
  description = "Bucket whose object-finalize events start DAG runs."
  type        = string
}

variable "object_name_prefix" {
  description = "Only objects under this prefix send events (null = the whole bucket)."
  type        = string
  default     = null
}

variable "source_archive" {
  description = "Zip of triggers/ in GCS (uploaded by Cloud Build before apply)."
  type = object({
    bucket = string
    object = string
  })
}

variable "runtime" {
  description = "Cloud Run functions runtime."
  type        = string
  default     = "python311"
}

variable "entry_point" {
  description = "CloudEvent function in triggers/main.py."
  type        = string
  default     = "on_landing_event"
}

variable "environment_variables" {
  description = "Runtime environment of the function (Airflow API URL, feeds, environment name)."
  type        = map(string)
  default     = {}
}

variable "max_instances" {
  description = "Upper bound of function instances (the Airflow API is the bottleneck, not the function)."
  type        = number
  default     = 5
}

variable "max_delivery_attempts" {
  description = "Deliveries of one event before it goes to the dead-letter topic."
  type        = number
  default     = 10
}

variable "members" {
  description = "Service account key (trigger) -> IAM member, from the service_accounts module."
  type        = map(string)
}

variable "service_account_email" {
  description = "E-mail of the trigger account: runs the function and signs Pub/Sub push requests."
  type        = string
}

variable "build_service_account" {
  description = "Fully qualified id of the account that builds the function (the cloudbuild account), instead of the project's default compute account."
  type        = string
}

variable "labels" {
  description = "Labels on the topics, subscriptions and function."
  type        = map(string)
  default     = {}
}
