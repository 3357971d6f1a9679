# Derives every BigQuery table and reporting view from the feed contracts and tables.json,
# the same way plugins/feedline/contract/tables.py does (tests/infra compares the two).
# Adding contracts/<feed>.yaml adds its tables here; no .tf file changes.

locals {
  repo_root         = "${path.module}/../../.."
  contracts_dir     = coalesce(var.contracts_dir, "${local.repo_root}/contracts")
  tables_json       = coalesce(var.tables_json, "${local.repo_root}/plugins/feedline/contract/tables.json")
  reporting_sql_dir = coalesce(var.reporting_sql_dir, "${local.repo_root}/sql/reporting")

  layout = jsondecode(file(local.tables_json))

  # Datasets are data (tables.json "datasets"): role -> name, its settings, and who writes or
  # reads it. A dataset added there is created and granted with no .tf change.
  datasets = { for role, d in local.layout.datasets : role => d.name }
  dataset_settings = {
    for role, d in local.layout.datasets : role => {
      dataset_id                  = d.name
      description                 = d.description
      default_table_expiration_ms = try(d.default_table_expiration_hours, null) == null ? null : d.default_table_expiration_hours * 3600000
      expire_partitions           = try(d.expire_partitions, false)
    }
  }
  # Writers edit the dataset's tables (load, MERGE, refresh, audit rows); readers only query.
  dataset_roles = { writers = "roles/bigquery.dataEditor", readers = "roles/bigquery.dataViewer" }
  dataset_grants = merge([
    for role, d in local.layout.datasets : merge([
      for kind, iam_role in local.dataset_roles : {
        for sa in try(d[kind], []) : "${role} ${sa} ${iam_role}" => { dataset = role, sa = sa, role = iam_role }
      }
    ]...)
  ]...)

  # feed name -> decoded contract. Two files with one feed name fail here ("Duplicate object key").
  contracts = {
    for f in sort(fileset(local.contracts_dir, "*.yaml")) :
    yamldecode(file("${local.contracts_dir}/${f}")).feed => yamldecode(file("${local.contracts_dir}/${f}"))
  }

  # A contract may write cluster_by/key as one name or a list; flatten() accepts both.
  feeds = {
    for feed, c in local.contracts : feed => {
      dag_id = "feedline_${feed}"
      # Table names: the feed, then _v<N> from table version 2 (feedline.contract.tables.table_stem).
      table_stem           = try(c.version, 1) == 1 ? feed : "${feed}_v${c.version}"
      file_pattern         = c.file_pattern
      key                  = flatten([try(c.key, [])])
      partition_by         = try(c.partition_by, null)
      cluster_by           = tolist(flatten([try(c.cluster_by, null) == null ? [] : c.cluster_by]))
      deadletter_threshold = c.deadletter.threshold
      on_exceed            = try(c.deadletter.on_exceed, "warn")
      columns = [
        for col in c.columns : {
          name     = col.name
          type     = col.type
          required = try(col.required, false)
        }
      ]
      reporting = [
        for v in flatten([try(c.reporting, null) == null ? [] : c.reporting]) : {
          # A reporting entry is either a view name or a mapping with a name.
          name                     = try(v.name, v)
          partition_by             = try(v.partition_by, null)
          cluster_by               = flatten([try(v.cluster_by, null) == null ? [] : v.cluster_by])
          refresh_interval_minutes = try(v.refresh_interval_minutes, 60)
        }
      ]
    }
  }

  # "<feed>.<kind>" -> table. contract_columns: typed = contract types, all NULLABLE;
  # contract = contract types and REQUIRED where the contract says so; none = no data columns.
  layouts = merge([
    for feed, f in local.feeds : {
      for kind, spec in local.layout.tables : "${f.table_stem}.${kind}" => {
        feed        = feed
        kind        = kind
        dataset_id  = local.datasets[spec.dataset]
        table_id    = replace(spec.name, "{feed}", f.table_stem)
        description = spec.description
        fields = concat(
          [
            for col in f.columns : {
              name = col.name
              type = col.type
              mode = spec.contract_columns == "contract" && col.required ? "REQUIRED" : "NULLABLE"
            } if spec.contract_columns != "none"
          ],
          spec.extra_columns,
        )
        partition_field = spec.partition == "contract" ? try(f.partition_by.column, null) : spec.partition.field
        partition_type = (spec.partition == "contract"
          ? (f.partition_by == null ? null : try(f.partition_by.granularity, "DAY"))
        : spec.partition.type)
        cluster_by = spec.cluster == "contract" ? f.cluster_by : tolist(spec.cluster)
      }
    }
  ]...)

  # Plus the schema as BigQuery takes it: a JSON string, so that tables with different columns
  # fit one map type in the bigquery module's variable.
  tables = { for k, t in local.layouts : k => merge(t, { schema = jsonencode(t.fields) }) }

  # View name -> its SELECT without the "--" comment lines (they explain the placeholders,
  # which mean nothing in the deployed view definition).
  reporting_sql = {
    for v in flatten([for f in local.feeds : f.reporting[*].name]) : v => join("\n", [
      for line in split("\n", file("${local.reporting_sql_dir}/${v}.sql")) : line
      if !startswith(trimspace(line), "--")
    ])
  }

  # "<feed>.<view>" -> materialized view over the staging dataset. Partitioning, clustering and
  # refresh come from the contract's reporting entry (BigQuery only; the local emulator ignores them).
  views = merge([
    for feed, f in local.feeds : {
      for v in f.reporting : "${feed}.${v.name}" => {
        feed       = feed
        dataset_id = local.datasets.reporting
        table_id   = v.name
        query = replace(
          replace(
            replace(
              local.reporting_sql[v.name],
              "/\\{\\{\\s*project\\s*\\}\\}/", var.project_id
            ),
            "/\\{\\{\\s*staging_dataset\\s*\\}\\}/", local.datasets.staging
          ),
          "/\\{\\{\\s*staging_table\\s*\\}\\}/", replace(local.layout.tables.staging.name, "{feed}", f.table_stem)
        )
        partition_field     = v.partition_by
        cluster_by          = v.cluster_by
        refresh_interval_ms = v.refresh_interval_minutes * 60 * 1000
      }
    }
  ]...)
}
