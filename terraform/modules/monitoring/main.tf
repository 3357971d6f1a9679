# Alerting and the Feedline dashboard. Task failures and audit figures are read from the Airflow
# task logs that Composer sends to Cloud Logging (log airflow-worker); Dataflow failures from
# Dataflow's own metric. Secrets for the channels come from Secret Manager, never from variables.

locals {
  metric_prefix = "feedline/${var.env}"
  worker_logs   = <<-EOT
    resource.type="cloud_composer_environment"
    resource.labels.environment_name="${var.composer_environment}"
    logName="projects/${var.project_id}/logs/airflow-worker"
  EOT

  # Page (PagerDuty, prod) for broken pipelines; deadletter shares are a data problem: Slack only.
  slack_channels = [google_monitoring_notification_channel.slack.id]
  page_channels  = concat(local.slack_channels, google_monitoring_notification_channel.pagerduty[*].id)
}

data "google_secret_manager_secret_version" "slack_token" {
  project = var.project_id
  secret  = var.slack.auth_token_secret
}

data "google_secret_manager_secret_version" "pagerduty_key" {
  count = var.pagerduty_service_key_secret == null ? 0 : 1

  project = var.project_id
  secret  = var.pagerduty_service_key_secret
}

resource "google_monitoring_notification_channel" "slack" {
  project      = var.project_id
  display_name = "Feedline ${var.env}: Slack ${var.slack.channel_name}"
  type         = "slack"
  labels = {
    channel_name = var.slack.channel_name
  }
  sensitive_labels {
    auth_token = data.google_secret_manager_secret_version.slack_token.secret_data
  }
}

resource "google_monitoring_notification_channel" "pagerduty" {
  count = var.pagerduty_service_key_secret == null ? 0 : 1

  project      = var.project_id
  display_name = "Feedline ${var.env}: PagerDuty"
  type         = "pagerduty"
  sensitive_labels {
    service_key = data.google_secret_manager_secret_version.pagerduty_key[0].secret_data
  }
}

# --- Log-based metrics ------------------------------------------------------------------------

# Failed attempts of MERGE and materialized-view refresh tasks (task ids contain "merge" or
# "refresh"), per feed. Airflow logs a failing attempt at ERROR.
resource "google_logging_metric" "task_failures" {
  project = var.project_id
  name    = "${local.metric_prefix}/merge_refresh_failures"
  filter  = <<-EOT
    ${local.worker_logs}
    labels.workflow=~"^feedline_"
    labels."task-id"=~"merge|refresh"
    severity>=ERROR
  EOT

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Feedline ${var.env}: failed MERGE/refresh task log entries"
    labels {
      key         = "feed"
      value_type  = "STRING"
      description = "Feed of the DAG (feedline_<feed>)."
    }
    labels {
      key         = "task"
      value_type  = "STRING"
      description = "Airflow task id."
    }
  }

  label_extractors = {
    feed = "REGEXP_EXTRACT(labels.workflow, \"^feedline_(.+)$\")"
    task = "EXTRACT(labels.\"task-id\")"
  }
}

# The audit task logs one line per batch:
#   feedline_audit feed=<feed> batch_id=<id> rows_read=<n> rows_loaded=<n> rows_deadletter=<n> deadletter_share=<x>
# Each figure becomes a distribution metric labelled with the feed.
locals {
  audit_metrics = {
    deadletter_share = {
      description = "Deadletter share of a batch (rows_deadletter / rows_read)."
      pattern     = "deadletter_share=([0-9.eE+-]+)"
      unit        = "1"
      # 0.00, 0.01, ... 1.00: fine enough around contract thresholds of a few per cent.
      linear = { num_finite_buckets = 100, width = 0.01, offset = 0 }
    }
    rows_read = {
      description = "Rows read by the Beam job in a batch."
      pattern     = "rows_read=([0-9]+)"
      unit        = "1"
      linear      = null
    }
    rows_deadletter = {
      description = "Rows deadlettered in a batch."
      pattern     = "rows_deadletter=([0-9]+)"
      unit        = "1"
      linear      = null
    }
  }
}

resource "google_logging_metric" "audit" {
  for_each = local.audit_metrics

  project = var.project_id
  name    = "${local.metric_prefix}/${each.key}"
  filter  = <<-EOT
    ${local.worker_logs}
    textPayload:"${var.audit_log_marker} "
  EOT

  value_extractor = "REGEXP_EXTRACT(textPayload, \"${each.value.pattern}\")"

  label_extractors = {
    feed = "REGEXP_EXTRACT(textPayload, \"${var.audit_log_marker} feed=([a-z0-9_]+)\")"
  }

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = each.value.unit
    display_name = "Feedline ${var.env}: ${each.value.description}"
    labels {
      key         = "feed"
      value_type  = "STRING"
      description = "Feed name."
    }
  }

  bucket_options {
    dynamic "linear_buckets" {
      for_each = each.value.linear == null ? [] : [each.value.linear]
      content {
        num_finite_buckets = linear_buckets.value.num_finite_buckets
        width              = linear_buckets.value.width
        offset             = linear_buckets.value.offset
      }
    }
    dynamic "exponential_buckets" {
      for_each = each.value.linear == null ? [1] : []
      content {
        num_finite_buckets = 40
        growth_factor      = 2
        scale              = 1
      }
    }
  }
}

# --- Alert policies ---------------------------------------------------------------------------

resource "google_monitoring_alert_policy" "dataflow_failed" {
  project               = var.project_id
  display_name          = "Feedline ${var.env}: Dataflow job failed"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.page_channels

  conditions {
    display_name = "A ${var.dataflow_job_prefix}* job is in state FAILED"
    condition_threshold {
      filter          = "resource.type = \"dataflow_job\" AND metric.type = \"dataflow.googleapis.com/job/is_failed\" AND resource.label.job_name = starts_with(\"${var.dataflow_job_prefix}\")"
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period   = "60s"
        per_series_aligner = "ALIGN_MAX"
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A Feedline validation job failed. The DAG run's launch task fails with it; open the Dataflow job (label `job_name`) for the error, then clear the task in Airflow to retry the batch (re-runs are idempotent)."
  }
}

resource "google_monitoring_alert_policy" "task_failures" {
  project               = var.project_id
  display_name          = "Feedline ${var.env}: MERGE or view refresh task failed"
  combiner              = "OR"
  severity              = "ERROR"
  notification_channels = local.page_channels

  conditions {
    display_name = "Failed merge/refresh task attempts"
    condition_threshold {
      filter          = "resource.type = \"cloud_composer_environment\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.task_failures.name}\""
      comparison      = "COMPARISON_GT"
      threshold_value = 0
      duration        = "0s"
      aggregations {
        alignment_period     = "300s"
        per_series_aligner   = "ALIGN_SUM"
        cross_series_reducer = "REDUCE_SUM"
        group_by_fields      = ["metric.label.feed", "metric.label.task"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "A MERGE into staging or a materialized-view refresh failed (labels: feed, task). Staging and reporting lag behind raw until the task succeeds; see the task log in Airflow."
  }
}

# One policy per feed: the threshold is the contract's deadletter.threshold.
resource "google_monitoring_alert_policy" "deadletter_share" {
  for_each = var.feeds

  project               = var.project_id
  display_name          = "Feedline ${var.env}: ${each.key} deadletter share above ${each.value.deadletter_threshold}"
  combiner              = "OR"
  severity              = "WARNING"
  notification_channels = local.slack_channels

  conditions {
    display_name = "${each.key}: deadletter share of recent batches"
    condition_threshold {
      filter          = "resource.type = \"cloud_composer_environment\" AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.audit["deadletter_share"].name}\" AND metric.label.feed = \"${each.key}\""
      comparison      = "COMPARISON_GT"
      threshold_value = each.value.deadletter_threshold
      duration        = "0s"
      aggregations {
        alignment_period     = "900s"
        per_series_aligner   = "ALIGN_DELTA"
        cross_series_reducer = "REDUCE_PERCENTILE_99"
        group_by_fields      = ["metric.label.feed"]
      }
    }
  }

  alert_strategy {
    auto_close = "86400s"
  }

  documentation {
    mime_type = "text/markdown"
    content   = "Batches of the ${each.key} feed are rejecting more rows than its contract allows (contracts/${each.key}.yaml deadletter.threshold). Rejected rows and reasons are in the ${each.key}_deadletter table."
  }
}

# --- Dashboard --------------------------------------------------------------------------------

locals {
  audit_metric_type = { for k, m in google_logging_metric.audit : k => "logging.googleapis.com/user/${m.name}" }

  chart = {
    deadletter_share = {
      title  = "Deadletter share per feed (p95 of batches)"
      filter = "metric.type=\"${local.audit_metric_type.deadletter_share}\" resource.type=\"cloud_composer_environment\""
      aggregation = {
        alignmentPeriod    = "3600s"
        perSeriesAligner   = "ALIGN_DELTA"
        crossSeriesReducer = "REDUCE_PERCENTILE_95"
        groupByFields      = ["metric.label.feed"]
      }
    }
    rows_read = {
      title  = "Rows per batch, per feed (median)"
      filter = "metric.type=\"${local.audit_metric_type.rows_read}\" resource.type=\"cloud_composer_environment\""
      aggregation = {
        alignmentPeriod    = "3600s"
        perSeriesAligner   = "ALIGN_DELTA"
        crossSeriesReducer = "REDUCE_PERCENTILE_50"
        groupByFields      = ["metric.label.feed"]
      }
    }
    run_duration = {
      title  = "DAG run duration per feed (seconds)"
      filter = "metric.type=\"composer.googleapis.com/workflow/run_duration\" resource.type=\"cloud_composer_workflow\" resource.label.environment_name=\"${var.composer_environment}\" resource.label.workflow_name=starts_with(\"feedline_\")"
      aggregation = {
        alignmentPeriod    = "3600s"
        perSeriesAligner   = "ALIGN_MAX"
        crossSeriesReducer = "REDUCE_MAX"
        groupByFields      = ["resource.label.workflow_name"]
      }
    }
    task_failures = {
      title  = "Failed MERGE/refresh attempts"
      filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.task_failures.name}\" resource.type=\"cloud_composer_environment\""
      aggregation = {
        alignmentPeriod    = "3600s"
        perSeriesAligner   = "ALIGN_SUM"
        crossSeriesReducer = "REDUCE_SUM"
        groupByFields      = ["metric.label.feed"]
      }
    }
  }
  chart_order = ["deadletter_share", "rows_read", "run_duration", "task_failures"]
}

resource "google_monitoring_dashboard" "feedline" {
  project = var.project_id
  dashboard_json = jsonencode({
    displayName = "Feedline ${var.env}"
    mosaicLayout = {
      columns = 12
      tiles = [
        for i, key in local.chart_order : {
          xPos   = (i % 2) * 6
          yPos   = floor(i / 2) * 4
          width  = 6
          height = 4
          widget = {
            title = local.chart[key].title
            xyChart = {
              dataSets = [{
                plotType = "LINE"
                timeSeriesQuery = {
                  timeSeriesFilter = {
                    filter      = local.chart[key].filter
                    aggregation = local.chart[key].aggregation
                  }
                }
              }]
            }
          }
        }
      ]
    }
  })
}
