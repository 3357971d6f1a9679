# A network for the Dataflow workers. The DAGs launch jobs with private worker IPs
# (plugins/feedline/orchestrate/launch.py: WORKER_IP_PRIVATE), which reach GCS, BigQuery and Artifact
# Registry only through Private Google Access; the default network's subnets do not have it.

resource "google_compute_network" "this" {
  project                 = var.project_id
  name                    = var.name
  auto_create_subnetworks = false
  routing_mode            = "REGIONAL"
}

resource "google_compute_subnetwork" "dataflow" {
  project                    = var.project_id
  region                     = var.region
  name                       = "${var.name}-dataflow"
  network                    = google_compute_network.this.id
  ip_cidr_range              = var.dataflow_cidr
  private_ip_google_access   = true
  private_ipv6_google_access = "ENABLE_OUTBOUND_VM_ACCESS_TO_GOOGLE"

  log_config {
    aggregation_interval = "INTERVAL_10_MIN"
    flow_sampling        = 0.5
    metadata             = "INCLUDE_ALL_METADATA"
  }
}

# Dataflow workers (network tag "dataflow") exchange shuffle data on these ports; nothing else
# is opened, and nothing from outside the subnetwork.
resource "google_compute_firewall" "dataflow_workers" {
  project     = var.project_id
  name        = "${var.name}-dataflow-workers"
  network     = google_compute_network.this.id
  direction   = "INGRESS"
  source_tags = ["dataflow"]
  target_tags = ["dataflow"]

  allow {
    protocol = "tcp"
    ports    = ["12345-12346"]
  }

  log_config {
    metadata = "INCLUDE_ALL_METADATA"
  }
}
