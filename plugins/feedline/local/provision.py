"""Create the local buckets, datasets, tables and reporting views from the contracts and sql/.

The cloud gets the same things from Terraform, which reads the same contract files and
``tables.json``. Idempotent: running it again changes nothing.
"""

from __future__ import annotations

from google.api_core.exceptions import Conflict, NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery, storage

from feedline.contract import tables
from feedline.orchestrate import columns, sql
from feedline.contract.model import Contract
from feedline.settings import Settings


def storage_client(project: str) -> storage.Client:
    return storage.Client(project=project, credentials=AnonymousCredentials())


def bigquery_client(project: str) -> bigquery.Client:
    return bigquery.Client(project=project, credentials=AnonymousCredentials())


def bigquery_table(project: str, spec: tables.TableSpec) -> bigquery.Table:
    table = bigquery.Table(
        f"{project}.{spec.table_id}",
        schema=[bigquery.SchemaField.from_api_repr(dict(f)) for f in spec.fields],
    )
    table.description = spec.description
    if spec.partition_field:
        table.time_partitioning = bigquery.TimePartitioning(type_=spec.partition_type, field=spec.partition_field)
    if spec.cluster_by:
        table.clustering_fields = list(spec.cluster_by)
    return table


def provision(settings: Settings, contracts: dict[str, Contract]) -> list[str]:
    """Everything the DAGs need; returns what was created."""
    created: list[str] = []
    gcs = storage_client(settings.project)
    for bucket in (settings.landing_bucket, settings.archive_bucket, settings.quarantine_bucket, settings.work_bucket):
        try:
            gcs.create_bucket(bucket)
            created.append(f"gs://{bucket}")
        except Conflict:
            pass

    bq = bigquery_client(settings.project)
    for dataset in tables.dataset_names().values():
        try:
            bq.create_dataset(f"{settings.project}.{dataset}")
            created.append(dataset)
        except Conflict:
            pass
    for contract in contracts.values():
        for spec in tables.table_specs(contract).values():
            try:
                bq.create_table(bigquery_table(settings.project, spec))
                created.append(spec.table_id)
            except Conflict:
                created.extend(add_missing_columns(bq, settings, spec) + relax_columns(bq, settings, spec))
        for view in contract.reporting:
            # Plain MV: the emulator silently skips one with PARTITION BY/CLUSTER BY/OPTIONS
            # (tests/integration/test_sql.py shows it); Terraform adds those in BigQuery.
            statement = sql.create_materialized_view(settings, contract, view)
            view_id = f"{settings.project}.{sql.reporting_view_id(view)}"
            if _reads_another_table(bq, view_id, sql.reporting_select(settings, contract, view)):
                bq.delete_table(view_id)  # a migration's new staging table: derived data, made again
            if not _table_exists(bq, view_id):
                bq.query(statement).result()
                created.append(sql.reporting_view_id(view))
    return created


def add_missing_columns(bq: bigquery.Client, settings: Settings, spec: tables.TableSpec) -> list[str]:
    """A table made by an older version gets the NULLABLE columns added since (rows kept), so
    a stack provisioned before keeps working; a new REQUIRED column cannot be added in place.
    The same code as a feed's evolved columns (feedline.orchestrate.columns.add_columns)."""
    table_id = f"{settings.project}.{spec.table_id}"
    have = {f.name for f in bq.get_table(table_id).schema}
    for field in spec.fields:
        if field["name"] not in have and field.get("mode") == "REQUIRED":
            raise RuntimeError(
                f"{table_id} lacks the REQUIRED column {field['name']}, which cannot be added in place: "
                "`feedline local wipe` and provision again (a local stack holds sample data only)"
            )
    added = columns.add_columns(bq, settings, spec.dataset, spec.name, list(spec.fields))
    return [f"{spec.table_id}.{name}" for name in added]


def relax_columns(bq: bigquery.Client, settings: Settings, spec: tables.TableSpec) -> list[str]:
    """REQUIRED columns the contract relaxed to NULLABLE (an additive change), relaxed in place:
    DDL for the data, then the schema (the emulator's ALTER leaves its metadata as it was)."""
    table_id = f"{settings.project}.{spec.table_id}"
    table = bq.get_table(table_id)
    wanted = {f["name"]: f for f in spec.fields if f.get("mode", "NULLABLE") == "NULLABLE"}
    relaxed = [f.name for f in table.schema if f.mode == "REQUIRED" and f.name in wanted]
    for name in relaxed:
        if not sql.IDENT.fullmatch(name):
            raise ValueError(f"invalid column {name!r} in {table_id}")
        bq.query(f"ALTER TABLE `{sql.table_ref(settings, spec.dataset, spec.name)}` "
                 f"ALTER COLUMN {name} DROP NOT NULL").result()
    table = bq.get_table(table_id)
    if any(f.mode == "REQUIRED" and f.name in relaxed for f in table.schema):
        table.schema = [bigquery.SchemaField.from_api_repr(dict(wanted[f.name])) if f.name in relaxed else f
                        for f in table.schema]
        bq.update_table(table, ["schema"])
    return [f"{spec.table_id}.{name} NULLABLE" for name in relaxed]


def _reads_another_table(bq: bigquery.Client, view_id: str, select: str) -> bool:
    """An existing view whose query is not ``select`` (None when the emulator does not say)."""
    try:
        query = bq.get_table(view_id).mview_query
    except NotFound:
        return False
    return query is not None and query.strip() != select.strip()


def _table_exists(bq: bigquery.Client, table_id: str) -> bool:
    try:
        bq.get_table(table_id)
    except NotFound:
        return False
    return True
