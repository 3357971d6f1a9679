# The four identities of Feedline and the few roles that can only be granted on the project.
# Bucket, dataset, repository, topic and service roles are granted in the module that owns the
# resource, on that resource. Every grant is a literal { sa, role } object so that
# tools/infra/iam.py can check each role against the allow-list of its service account.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  accounts = {
    composer   = "Feedline: Airflow (Composer) workloads"
    dataflow   = "Feedline: Dataflow workers of the validation job"
    trigger    = "Feedline: feedline-trigger function and its Pub/Sub push identity"
    cloudbuild = "Feedline: Cloud Build (tests, terraform apply, template build, DAG sync)"
  }

  members = { for k, sa in google_service_account.this : k => "serviceAccount:${sa.email}" }

  project_grants = [
    # Composer 3 needs this on its environment service account.
    { sa = "composer", role = "roles/composer.worker" },
    # Load, query and MERGE jobs run in this project; data access is granted per dataset.
    { sa = "composer", role = "roles/bigquery.jobUser" },
    # Launches and watches the flex template jobs (no dataset or bucket data access).
    { sa = "composer", role = "roles/dataflow.developer" },
    # Feedline's own events (log feedline-events), which the alerts read.
    { sa = "composer", role = "roles/logging.logWriter" },

    { sa = "dataflow", role = "roles/dataflow.worker" },

    # The function calls the Airflow REST API of the environment; Composer has no
    # environment-level IAM, so this is project-wide.
    { sa = "trigger", role = "roles/composer.user" },

    # Cloud Build applies this Terraform: it administers exactly the services Feedline uses.
    { sa = "cloudbuild", role = "roles/storage.admin" },
    { sa = "cloudbuild", role = "roles/bigquery.admin" },
    { sa = "cloudbuild", role = "roles/composer.admin" },
    { sa = "cloudbuild", role = "roles/pubsub.admin" },
    { sa = "cloudbuild", role = "roles/cloudfunctions.admin" },
    { sa = "cloudbuild", role = "roles/run.admin" },
    { sa = "cloudbuild", role = "roles/artifactregistry.admin" },
    { sa = "cloudbuild", role = "roles/monitoring.admin" },
    { sa = "cloudbuild", role = "roles/logging.configWriter" },
    { sa = "cloudbuild", role = "roles/logging.logWriter" },
    { sa = "cloudbuild", role = "roles/iam.serviceAccountAdmin" },
    { sa = "cloudbuild", role = "roles/resourcemanager.projectIamAdmin" },
    { sa = "cloudbuild", role = "roles/serviceusage.serviceUsageAdmin" },
    # The Dataflow network: network and subnetwork (networkAdmin), firewall rule (securityAdmin).
    { sa = "cloudbuild", role = "roles/compute.networkAdmin" },
    { sa = "cloudbuild", role = "roles/compute.securityAdmin" },
    # Reads secret metadata and IAM policies (refresh); secret payloads only where granted.
    { sa = "cloudbuild", role = "roles/secretmanager.viewer" },
    # Builds the flex template image's spec (gcloud dataflow flex-template build).
    { sa = "cloudbuild", role = "roles/dataflow.developer" },
  ]

  # Who may act as whom (resource-level, on the service account).
  account_grants = [
    # Airflow launches the Dataflow job as the worker account.
    { sa = "composer", on = "dataflow", role = "roles/iam.serviceAccountUser" },
    # Cloud Build deploys the environment, the job and the function with their accounts.
    { sa = "cloudbuild", on = "composer", role = "roles/iam.serviceAccountUser" },
    { sa = "cloudbuild", on = "dataflow", role = "roles/iam.serviceAccountUser" },
    { sa = "cloudbuild", on = "trigger", role = "roles/iam.serviceAccountUser" },
    # ... and builds the function's container as itself.
    { sa = "cloudbuild", on = "cloudbuild", role = "roles/iam.serviceAccountUser" },
  ]
}

resource "google_service_account" "this" {
  for_each = local.accounts

  project      = var.project_id
  account_id   = "${var.account_prefix}-${each.key}"
  display_name = each.value
}

resource "google_project_iam_member" "this" {
  for_each = { for g in local.project_grants : "${g.sa} ${g.role}" => g }

  project = var.project_id
  role    = each.value.role
  member  = local.members[each.value.sa]
}

resource "google_service_account_iam_member" "this" {
  for_each = { for g in local.account_grants : "${g.sa} ${g.on} ${g.role}" => g }

  service_account_id = google_service_account.this[each.value.on].name
  role               = each.value.role
  member             = local.members[each.value.sa]
}

# Composer 3 requirement: the Composer service agent manages the environment's account.
resource "google_service_account_iam_member" "composer_agent" {
  service_account_id = google_service_account.this["composer"].name
  role               = "roles/composer.ServiceAgentV2Ext"
  member             = "serviceAccount:service-${data.google_project.this.number}@cloudcomposer-accounts.iam.gserviceaccount.com"
}
