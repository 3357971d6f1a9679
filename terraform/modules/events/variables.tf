variable "project_id" {
  description = "Project whose logs hold Feedline's events (part of the log name in every filter)."
  type        = string
}

variable "events_json" {
  description = "The event contract shared with the Python side. Null = plugins/feedline/orchestrate/events.json."
  type        = string
  default     = null
}
