# Docker repository for the Beam flex template image (beam_jobs/Dockerfile), pushed by Cloud Build
# and pulled by the Dataflow launcher and workers.

resource "google_artifact_registry_repository" "this" {
  project       = var.project_id
  location      = var.location
  repository_id = var.repository_id
  format        = "DOCKER"
  description   = "Feedline: flex template image of the Beam validation job."
  labels        = var.labels

  docker_config {
    # A tag (the commit) always names the image the spec was built with.
    immutable_tags = true
  }

  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = var.keep_recent_versions
    }
  }

  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      older_than = "2592000s"
    }
  }
}

# The launcher VM and the workers run as the dataflow account and pull the image.
resource "google_artifact_registry_repository_iam_member" "dataflow_reader" {
  project    = var.project_id
  location   = google_artifact_registry_repository.this.location
  repository = google_artifact_registry_repository.this.name
  role       = "roles/artifactregistry.reader"
  member     = var.members.dataflow
}
