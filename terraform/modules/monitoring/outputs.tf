output "notification_channels" {
  description = "Channel ids: Slack always, PagerDuty when a key secret is given."
  value       = local.page_channels
}

output "log_metrics" {
  description = "Log-based metric types (merge_refresh_failures, deadletter_share, rows_read, rows_deadletter)."
  value = merge(
    { merge_refresh_failures = "logging.googleapis.com/user/${google_logging_metric.task_failures.name}" },
    local.audit_metric_type,
  )
}

output "dashboard_id" {
  description = "The Feedline dashboard."
  value       = google_monitoring_dashboard.feedline.id
}
