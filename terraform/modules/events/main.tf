# The log-based metrics of Feedline's own events (plugins/feedline/orchestrate/events.py writes
# them). Filters name the fixed log, the resource type and jsonPayload fields of events.json only;
# nothing here parses Airflow's or Composer's log lines, so no other ERROR entry can page.

locals {
  spec = jsondecode(file(coalesce(var.events_json, "${path.module}/../../../plugins/feedline/orchestrate/events.json")))

  log_name = "projects/${var.project_id}/logs/${local.spec.log_name}"
  base     = "logName=\"${local.log_name}\" AND resource.type=\"${local.spec.resource_type}\""
  of_kind  = { for kind in keys(local.spec.kinds) : kind => "${local.base} AND jsonPayload.kind=\"${kind}\"" }

  # Per-batch figures of batch_audited entries: distribution metrics labelled with the feed.
  audit = {
    deadletter_share = {
      field       = "deadletter_share"
      description = "Deadletter share of a batch (rows_deadletter / rows_read)."
      # 0.00, 0.01, ... 1.00: fine enough around contract thresholds of a few per cent.
      linear = { num_finite_buckets = 100, width = 0.01, offset = 0 }
    }
    rows_read = {
      field       = "rows_read"
      description = "Rows read by the Beam job in a batch."
      linear      = null
    }
    rows_deadletter = {
      field       = "rows_deadletter"
      description = "Rows deadlettered in a batch."
      linear      = null
    }
  }

  audit_metrics = {
    for name, m in local.audit : name => {
      filter           = local.of_kind.batch_audited
      value_extractor  = "EXTRACT(jsonPayload.${m.field})"
      label_extractors = { feed = "EXTRACT(jsonPayload.feed)" }
      description      = m.description
      linear           = m.linear
    }
  }

  # Tasks that failed for good (after their retries) among the tasks that page: MERGE, refresh.
  task_failures = {
    filter           = "${local.of_kind.task_failed} AND jsonPayload.task_id=~\"${local.spec.paging_tasks}\""
    label_extractors = { feed = "EXTRACT(jsonPayload.feed)", task = "EXTRACT(jsonPayload.task_id)" }
  }

  # Every jsonPayload field a filter or extractor names, with the kind it must belong to.
  used_fields = {
    batch_audited = concat(["kind", "feed"], [for m in local.audit : m.field])
    task_failed   = ["kind", "feed", "task_id"]
  }
  unknown_fields = flatten([
    for kind, fields in local.used_fields : [for f in fields : "${kind}.${f}" if !contains(local.spec.kinds[kind].fields, f)]
  ])
}
