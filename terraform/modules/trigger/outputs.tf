output "function_name" {
  description = "Name of the Cloud Run function."
  value       = google_cloudfunctions2_function.trigger.name
}

output "function_url" {
  description = "HTTPS endpoint of the function (internal ingress only)."
  value       = google_cloudfunctions2_function.trigger.url
}

output "topic" {
  description = "Topic of the landing bucket's finalize events."
  value       = google_pubsub_topic.events.id
}

output "dead_letter_topic" {
  description = "Where events go after max_delivery_attempts failed deliveries."
  value       = google_pubsub_topic.dead_letter.id
}

output "dead_letter_subscription" {
  description = "Pull subscription to inspect or replay dead letters."
  value       = google_pubsub_subscription.dead_letter.id
}
