# Event path: GCS object finalize on the landing bucket -> Pub/Sub topic -> push subscription
# (retries, then a dead-letter topic) -> Cloud Run function feedline-trigger -> Airflow REST API.
#
# A push subscription of our own, rather than the function's Eventarc trigger, because the
# dead-letter policy and retry backoff live on the subscription and Eventarc's subscription is
# not ours to configure. functions-framework turns the Pub/Sub push body into a CloudEvent
# (google.cloud.pubsub.topic.v1.messagePublished); message.attributes carry bucketId, objectId
# and eventType, message.data the object's JSON (payload_format JSON_API_V1).

data "google_project" "this" {
  project_id = var.project_id
}

data "google_storage_project_service_account" "gcs_agent" {
  project = var.project_id
}

locals {
  pubsub_agent = "serviceAccount:service-${data.google_project.this.number}@gcp-sa-pubsub.iam.gserviceaccount.com"
}

resource "google_pubsub_topic" "events" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-landing-events"
  labels                     = var.labels
  message_retention_duration = "86400s"
}

resource "google_pubsub_topic" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-landing-events-dead-letter"
  labels                     = var.labels
  message_retention_duration = "604800s"
}

# GCS publishes finalize events as its service agent.
resource "google_pubsub_topic_iam_member" "gcs_agent_publishes" {
  project = var.project_id
  topic   = google_pubsub_topic.events.id
  role    = "roles/pubsub.publisher"
  member  = "serviceAccount:${data.google_storage_project_service_account.gcs_agent.email_address}"
}

resource "google_storage_notification" "landing" {
  bucket             = var.landing_bucket
  payload_format     = "JSON_API_V1"
  topic              = google_pubsub_topic.events.id
  event_types        = ["OBJECT_FINALIZE"]
  object_name_prefix = var.object_name_prefix

  depends_on = [google_pubsub_topic_iam_member.gcs_agent_publishes]
}

resource "google_cloudfunctions2_function" "trigger" {
  project     = var.project_id
  location    = var.region
  name        = var.function_name
  description = "Feedline: starts the feed's DAG run for a file dropped in the landing bucket."
  labels      = var.labels

  build_config {
    runtime         = var.runtime
    entry_point     = var.entry_point
    service_account = var.build_service_account
    source {
      storage_source {
        bucket = var.source_archive.bucket
        object = var.source_archive.object
      }
    }
  }

  service_config {
    service_account_email          = var.service_account_email
    ingress_settings               = "ALLOW_INTERNAL_ONLY"
    all_traffic_on_latest_revision = true
    min_instance_count             = 0
    max_instance_count             = var.max_instances
    available_memory               = "256M"
    timeout_seconds                = 60
    environment_variables          = var.environment_variables
  }
}

# Only the push identity may invoke the function (no allUsers).
resource "google_cloud_run_service_iam_member" "push_invoker" {
  project  = var.project_id
  location = var.region
  service  = google_cloudfunctions2_function.trigger.name # a function's Cloud Run service has its name
  role     = "roles/run.invoker"
  member   = var.members.trigger
}

resource "google_pubsub_subscription" "push" {
  project = var.project_id
  name    = "${var.name_prefix}-landing-events-push"
  topic   = google_pubsub_topic.events.id
  labels  = var.labels

  # The function answers after the Airflow API accepted (or already had) the run.
  ack_deadline_seconds       = 60
  message_retention_duration = "604800s"

  push_config {
    # The function's run.app URI, not its cloudfunctions.net url: with ingress internal-only,
    # Cloud Run treats Pub/Sub of the same project as internal only on the run.app URL
    # (terraform/README.md, "Decisions"). The OIDC audience defaults to this endpoint.
    push_endpoint = google_cloudfunctions2_function.trigger.service_config[0].uri
    oidc_token {
      service_account_email = var.service_account_email
    }
  }

  retry_policy {
    minimum_backoff = "10s"
    maximum_backoff = "600s"
  }

  dead_letter_policy {
    dead_letter_topic     = google_pubsub_topic.dead_letter.id
    max_delivery_attempts = var.max_delivery_attempts
  }

  expiration_policy {
    ttl = ""
  }

  depends_on = [google_cloud_run_service_iam_member.push_invoker]
}

# Dead letters stay readable (and replayable) for 7 days.
resource "google_pubsub_subscription" "dead_letter" {
  project                    = var.project_id
  name                       = "${var.name_prefix}-landing-events-dead-letter"
  topic                      = google_pubsub_topic.dead_letter.id
  labels                     = var.labels
  message_retention_duration = "604800s"
  ack_deadline_seconds       = 60

  expiration_policy {
    ttl = ""
  }
}

# Pub/Sub forwards undeliverable messages as its service agent: it must publish to the
# dead-letter topic and acknowledge on the source subscription.
resource "google_pubsub_topic_iam_member" "pubsub_agent_dead_letters" {
  project = var.project_id
  topic   = google_pubsub_topic.dead_letter.id
  role    = "roles/pubsub.publisher"
  member  = local.pubsub_agent
}

resource "google_pubsub_subscription_iam_member" "pubsub_agent_acks" {
  project      = var.project_id
  subscription = google_pubsub_subscription.push.id
  role         = "roles/pubsub.subscriber"
  member       = local.pubsub_agent
}
