variable "project_id" {
  description = "Project that owns the repository."
  type        = string
}

variable "location" {
  description = "Repository region, the same as the Dataflow jobs' region."
  type        = string
}

variable "repository_id" {
  description = "Repository name, e.g. feedline-dev."
  type        = string
}

variable "members" {
  description = "Service account key (dataflow) -> IAM member, from the service_accounts module."
  type        = map(string)
}

variable "keep_recent_versions" {
  description = "Image versions kept by the cleanup policy (older ones are deleted after 30 days)."
  type        = number
  default     = 20
}

variable "labels" {
  description = "Labels on the repository."
  type        = map(string)
  default     = {}
}
