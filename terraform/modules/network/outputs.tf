output "network" {
  description = "Network id."
  value       = google_compute_network.this.id
}

output "dataflow_subnetwork" {
  description = "Self link of the Dataflow subnetwork (FEEDLINE_DATAFLOW_SUBNETWORK)."
  value       = google_compute_subnetwork.dataflow.self_link
}
