output "log_name" {
  description = "Full log name of Feedline's events (projects/<project>/logs/<events.json log_name>)."
  value       = local.log_name
}

output "resource_type" {
  description = "Monitored resource type of the entries, hence of the metrics' time series."
  value       = local.spec.resource_type
}

output "audit_metrics" {
  description = "Metric name -> filter, value_extractor, label_extractors, description, linear buckets (null = exponential)."
  value       = local.audit_metrics
}

output "task_failures" {
  description = "Filter and label extractors (feed, task) of the failed MERGE/refresh task metric."
  value       = local.task_failures
}

output "unknown_fields" {
  description = "jsonPayload fields the filters use that events.json does not declare (must be empty)."
  value       = local.unknown_fields
}
