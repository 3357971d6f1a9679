# Alerting and the Feedline dashboard. Task failures and audit figures are Feedline's own log
# entries (modules/events: fixed log name, JSON payload), never Airflow's log lines; Dataflow
# failures are Dataflow's own metric. The Slack and PagerDuty channels are made once, by hand
# (terraform/README.md, bootstrap) and only looked up here: their tokens never pass through
# Terraform, so they are in no plan and no state.

locals {
  metric_prefix = "feedline/${var.env}"
  event_metric  = "resource.type = \"${var.events.resource_type}\""

  # Page (PagerDuty, prod) for broken pipelines; deadletter shares are a data problem: Slack only.
  slack_channels = [data.google_monitoring_notification_channel.slack.name]
  page_channels  = concat(local.slack_channels, data.google_monitoring_notification_channel.pagerduty[*].name)
}

# The API returns sensitive labels (tokens, keys) obfuscated; only the channel's name is used.
data "google_monitoring_notification_channel" "slack" {
  project      = var.project_id
  type         = "slack"
  display_name = var.notification_channels.slack
}

data "google_monitoring_notification_channel" "pagerduty" {
  count = var.notification_channels.pagerduty == null ? 0 : 1

  project      = var.project_id
  type         = "pagerduty"
  display_name = var.notification_channels.pagerduty
}

# --- Log-based metrics ------------------------------------------------------------------------

# MERGE and materialized-view refresh tasks that failed for good (task_failed events, written by
# the failure callback once the retries are spent), per feed and task.
resource "google_logging_metric" "task_failures" {
  project = var.project_id
  name    = "${local.metric_prefix}/merge_refresh_failures"
  filter  = var.events.task_failures.filter

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "INT64"
    unit         = "1"
    display_name = "Feedline ${var.env}: failed MERGE/refresh tasks"
    labels {
      key         = "feed"
      value_type  = "STRING"
      description = "Feed of the DAG."
    }
    labels {
      key         = "task"
      value_type  = "STRING"
      description = "Airflow task id."
    }
  }

  label_extractors = var.events.task_failures.label_extractors
}

# Each figure of the batch_audited events becomes a distribution metric labelled with the feed.
resource "google_logging_metric" "audit" {
  for_each = var.events.audit_metrics

  project         = var.project_id
  name            = "${local.metric_prefix}/${each.key}"
  filter          = each.value.filter
  value_extractor = each.value.value_extractor

  label_extractors = each.value.label_extractors

  metric_descriptor {
    metric_kind  = "DELTA"
    value_type   = "DISTRIBUTION"
    unit         = "1"
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
    display_name = "Failed merge/refresh tasks"
    condition_threshold {
      filter          = "${local.event_metric} AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.task_failures.name}\""
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
      filter          = "${local.event_metric} AND metric.type = \"logging.googleapis.com/user/${google_logging_metric.audit["deadletter_share"].name}\" AND metric.label.feed = \"${each.key}\""
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
      filter = "metric.type=\"${local.audit_metric_type.deadletter_share}\" resource.type=\"${var.events.resource_type}\""
      aggregation = {
        alignmentPeriod    = "3600s"
        perSeriesAligner   = "ALIGN_DELTA"
        crossSeriesReducer = "REDUCE_PERCENTILE_95"
        groupByFields      = ["metric.label.feed"]
      }
    }
    rows_read = {
      title  = "Rows per batch, per feed (median)"
      filter = "metric.type=\"${local.audit_metric_type.rows_read}\" resource.type=\"${var.events.resource_type}\""
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
      title  = "Failed MERGE/refresh tasks"
      filter = "metric.type=\"logging.googleapis.com/user/${google_logging_metric.task_failures.name}\" resource.type=\"${var.events.resource_type}\""
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
