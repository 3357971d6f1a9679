variable "project_id" {
  description = "Project of the network."
  type        = string
}

variable "region" {
  description = "Region of the Dataflow subnetwork (the jobs' region)."
  type        = string
}

variable "name" {
  description = "Network name, e.g. feedline-dev; the subnetwork is <name>-dataflow."
  type        = string
}

variable "dataflow_cidr" {
  description = "IP range of the Dataflow workers' subnetwork."
  type        = string
  default     = "10.20.0.0/20"
}
