variable "alert_connections" {
  description = "Airflow connection ids of the alert channels (slack, pagerduty = null: none); each lives in the Secret Manager secret airflow-connections-<id>."
  type = object({
    slack     = string
    pagerduty = optional(string)
  })
}
