variable "project_id" {
  description = "Project that owns the buckets."
  type        = string
}

variable "location" {
  description = "Bucket location (region or multi-region), e.g. europe-west1."
  type        = string
}

variable "name_prefix" {
  description = "Globally unique prefix of the bucket names, e.g. \"<project>-feedline-dev\"."
  type        = string
}

variable "members" {
  description = "Service account key (composer, dataflow) -> IAM member, from the service_accounts module."
  type        = map(string)
}

variable "retention" {
  description = "How long objects are kept, in days. Archive and quarantine are the long-term record of every file."
  type = object({
    archive_days          = number
    quarantine_days       = number
    scratch_days          = optional(number, 7)
    noncurrent_days       = optional(number, 30)
    archive_nearline_days = optional(number, 30)
    archive_coldline_days = optional(number, 90)
  })
}

variable "force_destroy" {
  description = "Let terraform destroy non-empty buckets (dev only)."
  type        = bool
  default     = false
}

variable "labels" {
  description = "Labels on every bucket."
  type        = map(string)
  default     = {}
}
