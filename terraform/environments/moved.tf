# State migration, written once and linked into every environment as moved.tf: the composition
# moved from environments/<env>/main.tf into modules/platform, so every address gained the prefix
# module.platform. With these blocks the next plan moves state instead of destroying and creating
# everything. Delete this file and the links once every environment has been applied with them.
# (This file itself is no root: terraform reads it only through environments/<env>/moved.tf.)

moved {
  from = google_project_service.this
  to   = module.platform.google_project_service.this
}

moved {
  from = google_project_iam_audit_config.storage
  to   = module.platform.google_project_iam_audit_config.storage
}

moved {
  from = module.feed_tables
  to   = module.platform.module.feed_tables
}

moved {
  from = module.pypi_requirements
  to   = module.platform.module.pypi_requirements
}

moved {
  from = module.service_accounts
  to   = module.platform.module.service_accounts
}

moved {
  from = module.network
  to   = module.platform.module.network
}

moved {
  from = module.buckets
  to   = module.platform.module.buckets
}

moved {
  from = module.bigquery
  to   = module.platform.module.bigquery
}

moved {
  from = module.artifact_registry
  to   = module.platform.module.artifact_registry
}

moved {
  from = module.composer
  to   = module.platform.module.composer
}

moved {
  from = module.trigger
  to   = module.platform.module.trigger
}

moved {
  from = module.monitoring
  to   = module.platform.module.monitoring
}
