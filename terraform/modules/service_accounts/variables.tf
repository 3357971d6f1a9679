variable "project_id" {
  description = "Project that owns the service accounts."
  type        = string
}

variable "account_prefix" {
  description = "Prefix of the account ids, e.g. \"fl-dev\" -> fl-dev-composer (6-30 characters in all)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,17}$", var.account_prefix))
    error_message = "account_prefix: lower-case letters, digits and hyphens, at most 18 characters."
  }
}
