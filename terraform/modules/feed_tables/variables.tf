variable "project_id" {
  description = "Project that owns the datasets; fills {{ project }} in the reporting SQL."
  type        = string
}

variable "contracts_dir" {
  description = "Folder of feed contracts (*.yaml). Null = the repository's contracts/."
  type        = string
  default     = null
}

variable "tables_json" {
  description = "Table layout shared with the Python side. Null = plugins/feedline/contract/tables.json."
  type        = string
  default     = null
}

variable "reporting_sql_dir" {
  description = "Folder of reporting view SELECTs (<view>.sql). Null = the repository's sql/reporting/."
  type        = string
  default     = null
}
