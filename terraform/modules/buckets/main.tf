# Feedline's buckets. Files flow landing/<feed>/ -> processing/<feed>/<batch>/ (claimed, same
# bucket) -> archive or quarantine. The work bucket holds the Beam job's output (batches/),
# Dataflow temp and staging (dataflow/), the flex template spec (templates/) and the contracts
# the job reads (contracts/). Composer's own bucket is created by Composer.
# Prefixes follow plugins/feedline/contract/naming.py and orchestrate/launch.py.

locals {
  # Scratch prefixes of the work bucket; templates/ and contracts/ are kept.
  scratch_prefixes = ["batches/", "dataflow/"]

  buckets = {
    landing = {
      # A producer re-uploading a name before the file is claimed keeps both copies.
      rules = [
        { action = "Delete", days_since_noncurrent_time = var.retention.noncurrent_days },
        { action = "AbortIncompleteMultipartUpload", age = 1 },
      ]
      # Live landing objects are never deleted by age: an unclaimed file is work not yet done.
    }
    archive = {
      rules = [
        { action = "SetStorageClass", storage_class = "NEARLINE", age = var.retention.archive_nearline_days },
        { action = "SetStorageClass", storage_class = "COLDLINE", age = var.retention.archive_coldline_days },
        { action = "Delete", age = var.retention.archive_days },
        { action = "Delete", days_since_noncurrent_time = var.retention.noncurrent_days },
      ]
    }
    quarantine = {
      rules = [
        { action = "Delete", age = var.retention.quarantine_days },
        { action = "Delete", days_since_noncurrent_time = var.retention.noncurrent_days },
      ]
    }
    work = {
      # Scratch and rebuildable artifacts: old versions only guard against a bad overwrite of
      # the template spec or a contract, so they go after a day.
      rules = [
        { action = "Delete", age = var.retention.scratch_days, matches_prefix = local.scratch_prefixes },
        { action = "Delete", days_since_noncurrent_time = 1 },
        { action = "AbortIncompleteMultipartUpload", age = 1 },
      ]
    }
  }

  # objectUser = read, write, delete objects (no IAM, no bucket settings).
  grants = [
    # Airflow claims files (moves them out of the landing prefix), archives and quarantines them.
    { bucket = "landing", sa = "composer", role = "roles/storage.objectUser" },
    { bucket = "archive", sa = "composer", role = "roles/storage.objectUser" },
    { bucket = "quarantine", sa = "composer", role = "roles/storage.objectUser" },
    # Airflow loads the Beam job's output into BigQuery and clears it before a re-run.
    { bucket = "work", sa = "composer", role = "roles/storage.objectUser" },
    # The Beam job reads the claimed files and writes load-ready and deadletter files.
    { bucket = "landing", sa = "dataflow", role = "roles/storage.objectViewer" },
    { bucket = "work", sa = "dataflow", role = "roles/storage.objectUser" },
  ]
}

resource "google_storage_bucket" "this" {
  for_each = local.buckets

  project                     = var.project_id
  name                        = "${var.name_prefix}-${each.key}"
  location                    = var.location
  storage_class               = "STANDARD"
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = var.force_destroy
  labels                      = merge(var.labels, { purpose = each.key })

  # Every bucket is versioned; lifecycle rules bound what old versions cost.
  versioning {
    enabled = true
  }

  dynamic "lifecycle_rule" {
    for_each = each.value.rules
    content {
      action {
        type          = lifecycle_rule.value.action
        storage_class = try(lifecycle_rule.value.storage_class, null)
      }
      condition {
        age                        = try(lifecycle_rule.value.age, null)
        days_since_noncurrent_time = try(lifecycle_rule.value.days_since_noncurrent_time, null)
        matches_prefix             = try(lifecycle_rule.value.matches_prefix, null)
        # A noncurrent-only rule must not touch live objects.
        with_state = can(lifecycle_rule.value.days_since_noncurrent_time) ? "ARCHIVED" : null
      }
    }
  }
}

resource "google_storage_bucket_iam_member" "this" {
  for_each = { for g in local.grants : "${g.bucket} ${g.sa} ${g.role}" => g }

  bucket = google_storage_bucket.this[each.value.bucket].name
  role   = each.value.role
  member = var.members[each.value.sa]
}
