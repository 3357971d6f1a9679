"""BigQuery table layouts derived from a contract and ``tables.json``.

``tables.json`` says which four tables every feed gets (raw, staging, deadletter, audit) and
which bookkeeping columns each adds; the contract supplies the data columns. Terraform reads the
same two files, so a schema is never typed twice.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from feedline.contract.model import Contract

TABLE_KINDS = ("raw", "staging", "deadletter", "audit")


@lru_cache(maxsize=1)
def layout() -> dict[str, Any]:
    return json.loads((Path(__file__).with_name("tables.json")).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset as tables.json declares it; Terraform creates and grants it from the same data."""

    role: str
    name: str
    description: str
    default_table_expiration_hours: int | None  # None = tables never expire
    expire_partitions: bool  # the environment's partition expiry (raw history) applies
    writers: tuple[str, ...]  # service accounts that write it (roles/bigquery.dataEditor)
    readers: tuple[str, ...]  # service accounts that only read it (roles/bigquery.dataViewer)


def dataset_specs() -> dict[str, DatasetSpec]:
    """Logical dataset role (raw, staging, reporting, ops, load) -> its declaration."""
    return {
        role: DatasetSpec(
            role=role,
            name=d["name"],
            description=d["description"],
            default_table_expiration_hours=d.get("default_table_expiration_hours"),
            expire_partitions=bool(d.get("expire_partitions", False)),
            writers=tuple(d.get("writers", ())),
            readers=tuple(d.get("readers", ())),
        )
        for role, d in layout()["datasets"].items()
    }


def dataset_names() -> dict[str, str]:
    """Logical dataset role (raw, staging, reporting, ops, load) -> dataset name."""
    return {role: spec.name for role, spec in dataset_specs().items()}


@dataclass(frozen=True)
class TableSpec:
    kind: str
    dataset: str
    name: str
    description: str
    fields: tuple[dict[str, str], ...]
    partition_field: str | None
    partition_type: str | None
    cluster_by: tuple[str, ...]

    @property
    def table_id(self) -> str:
        return f"{self.dataset}.{self.name}"

    def field_names(self) -> list[str]:
        return [f["name"] for f in self.fields]


def table_stem(feed: str, version: int = 1) -> str:
    """What a feed's table names are made of: the feed, then ``_v<N>`` from table version 2 (a
    contract migration's new tables, beside the old ones). Terraform's feed_tables does the same."""
    return feed if version == 1 else f"{feed}_v{version}"


def table_location(feed: str, kind: str, version: int = 1) -> tuple[str, str]:
    """(dataset, table) of one of a feed's tables, as tables.json names it."""
    spec = layout()["tables"][kind]
    return dataset_names()[spec["dataset"]], spec["name"].format(feed=table_stem(feed, version))


def table_spec(contract: Contract, kind: str) -> TableSpec:
    spec = layout()["tables"][kind]
    dataset, name = table_location(contract.feed, kind, contract.version)
    fields = [*_contract_fields(contract, spec["contract_columns"]), *spec["extra_columns"]]
    partition, cluster = spec["partition"], spec["cluster"]
    if partition == "contract":
        part = contract.partition_by
        partition_field = part.column if part else None
        partition_type = part.granularity if part else None
    else:
        partition_field, partition_type = partition["field"], partition["type"]
    return TableSpec(
        kind=kind,
        dataset=dataset,
        name=name,
        description=spec["description"],
        fields=tuple({k: v for k, v in f.items()} for f in fields),
        partition_field=partition_field,
        partition_type=partition_type,
        cluster_by=tuple(contract.cluster_by if cluster == "contract" else cluster),
    )


def table_specs(contract: Contract) -> dict[str, TableSpec]:
    return {kind: table_spec(contract, kind) for kind in TABLE_KINDS}


# --- Airflow Assets: what a downstream DAG schedules on --------------------------------------
# The URI form the Google provider registers for BigQuery (providers-google's asset-uris,
# airflow.providers.google.assets.bigquery): bigquery://<project>/<dataset>/<table>. Airflow
# checks every Asset of that scheme with the provider's sanitize_uri (a project, then exactly a
# dataset and a table), and its OpenLineage converter maps it to namespace "bigquery", name
# "<project>.<dataset>.<table>", the dataset the Google operators report. Strings here (this layer
# imports no Airflow); feedline.orchestrate.assets makes them Assets.
ASSET_SCHEME = "bigquery"
_ASSET_PART = re.compile(r"^[A-Za-z0-9_-]+$")


def asset_uri(project: str, dataset: str, table: str) -> str:
    """The Asset URI of a BigQuery table or view."""
    for part in (project, dataset, table):
        if not _ASSET_PART.match(part):
            raise ValueError(f"{part!r} cannot be part of a BigQuery asset URI")
    return f"{ASSET_SCHEME}://{project}/{dataset}/{table}"


def staging_asset_uri(project: str, feed: str, version: int = 1) -> str:
    """The feed's staging table: updated by every batch that reaches merge_staging."""
    return asset_uri(project, *table_location(feed, "staging", version))


def view_asset_uri(project: str, view_name: str) -> str:
    """A reporting view (contract ``reporting``): updated by its refresh_<view> task."""
    return asset_uri(project, dataset_names()["reporting"], view_name)


def _contract_fields(contract: Contract, how: str) -> list[dict[str, str]]:
    if how == "none":
        return []
    return [
        {
            "name": c.name,
            "type": c.type,
            "mode": "REQUIRED" if (how == "contract" and c.required) else "NULLABLE",
        }
        for c in contract.columns
    ]


def load_schema_fields(contract: Contract, kind: str) -> list[dict[str, str]]:
    """Schema for a load job into a ``kind`` table (name/type/mode only). The Beam job writes
    valid and deadletter rows as Parquet of these types (feedline.validate.outputs.ARROW_TYPES),
    so a load table holds the table's own values: nothing to decode in SQL."""
    return [{"name": f["name"], "type": f["type"], "mode": f["mode"]} for f in table_spec(contract, kind).fields]


# The Beam job's per-file summary, as loaded into the batch's summary load table.
SUMMARY_FIELDS: tuple[dict[str, str], ...] = (
    {"name": "source_file", "type": "STRING", "mode": "REQUIRED"},
    {"name": "feed", "type": "STRING", "mode": "REQUIRED"},
    {"name": "rows_read", "type": "INT64", "mode": "REQUIRED"},
    {"name": "rows_valid", "type": "INT64", "mode": "REQUIRED"},
    {"name": "rows_deadletter", "type": "INT64", "mode": "REQUIRED"},
    {"name": "file_error", "type": "STRING", "mode": "NULLABLE"},
    {"name": "reasons", "type": "STRING", "mode": "NULLABLE"},  # JSON object: reason -> count
    {"name": "partition_min", "type": "DATE", "mode": "NULLABLE"},  # days the valid rows hit
    {"name": "partition_max", "type": "DATE", "mode": "NULLABLE"},
    # schema_drift's outcome, each a JSON array of column names (NULL: none)
    {"name": "columns_added", "type": "STRING", "mode": "NULLABLE"},  # evolve: now in raw and staging
    {"name": "columns_ignored", "type": "STRING", "mode": "NULLABLE"},  # ignore: in no table
    {"name": "columns_nulled", "type": "STRING", "mode": "NULLABLE"},  # null: missing, loaded as NULL
)

# Beam output -> load table (dataset "load", one table per batch and output, removed after).
LOAD_OUTPUTS = {"valid": "raw", "deadletter": "deadletter", "summary": None}
# How each output is written by the Beam job and read by its load job: valid and deadletter as
# Parquet (NUMERIC a DECIMAL(38, 9), loaded as NUMERIC through decimalTargetTypes), the summary
# (a line per file) as newline-delimited JSON.
LOAD_FORMATS = {"valid": "PARQUET", "deadletter": "PARQUET", "summary": "NEWLINE_DELIMITED_JSON"}
# BigQuery reads a Parquet DECIMAL as the first of these that holds its precision and scale:
# (38, 9) is exactly NUMERIC. Without the option it would pick NUMERIC too for (38, 9), but
# saying so keeps a wider decimal from silently turning into BIGNUMERIC or failing later.
PARQUET_DECIMAL_TARGET_TYPES = ["NUMERIC"]


def load_output_schema(contract: Contract, output: str) -> list[dict[str, str]]:
    kind = LOAD_OUTPUTS[output]
    return list(SUMMARY_FIELDS) if kind is None else load_schema_fields(contract, kind)
