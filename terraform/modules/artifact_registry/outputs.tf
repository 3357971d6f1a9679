output "repository_url" {
  description = "Docker registry path: <region>-docker.pkg.dev/<project>/<repository>."
  value       = "${google_artifact_registry_repository.this.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}"
}

output "flex_template_image" {
  description = "Image name of the flex template, without tag (Cloud Build tags it with the commit)."
  value       = "${google_artifact_registry_repository.this.location}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.this.repository_id}/feedline-beam"
}
