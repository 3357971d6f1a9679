"""Columns the tables hold beyond the contract: added by ``schema_drift: {extra_columns: evolve}``.

The contract stays the one source of the known columns; an evolved column is a file's extra
column, named by the Beam job in its summary (``columns_added``), added to raw and staging as
NULLABLE STRING and from then on carried by every publish and MERGE of the feed (a batch whose
files lack it loads NULL there: the latest version of a row wins, whole).

How a column is added, the same on the emulator and on BigQuery: ``ALTER TABLE ... ADD COLUMN
IF NOT EXISTS`` (idempotent: a retry or a second file with the same column is a no-op), then the
table's schema as well if it still lacks the column (the emulator's ALTER changes the data but
not the table's metadata; on BigQuery this second step finds nothing to do). Not the load job's
``schemaUpdateOptions: ALLOW_FIELD_ADDITION``: the load goes to the batch's own load table,
whose schema is the batch's anyway, and raw and staging are written by MERGE, not by a load.
"""

from __future__ import annotations

import json

from feedline.contract import tables
from feedline.contract.model import IDENTIFIER, Contract
from feedline.orchestrate import bq_calls, sql
from feedline.settings import Settings

EVOLVED_TYPE = "STRING"  # the file's text, trimmed, empty = NULL (feedline.validate.header)
ADDED_COLUMNS_SQL = "added_columns.sql"
# Written beside the batch's outputs by evolve_columns; load_valid reads its schema from it.
VALID_SCHEMA_OBJECT = "valid_schema.json"


def evolved_fields(names: list[str]) -> list[dict[str, str]]:
    return [{"name": name, "type": EVOLVED_TYPE, "mode": "NULLABLE"} for name in names]


def known_columns(contract: Contract) -> set[str]:
    """Every column raw or staging has from the contract and tables.json, lower-cased."""
    specs = tables.table_specs(contract)
    return {name.lower() for kind in ("raw", "staging") for name in specs[kind].field_names()}


def checked_extra_columns(contract: Contract, names: list[str]) -> list[str]:
    """``names`` (from the Beam job's output or an XCom: data, not code) as SQL identifiers:
    each must be a name a contract column could have and none the tables already know."""
    known = known_columns(contract)
    for name in names:
        if not isinstance(name, str) or not IDENTIFIER.fullmatch(name) or name.lower() in known:
            raise ValueError(f"{name!r} cannot be an evolved column of the {contract.feed} tables")
    return sorted(set(names))


def batch_added_columns(client, settings: Settings, contract: Contract, batch_id: str) -> tuple[list[str], list[str]]:
    """(the columns the batch's accepted files add, the columns any of its files adds), each the
    union over the files, checked. The second are the extra columns of the job's valid output
    (Parquet: one schema per batch, rejected files' rows included until publish drops them)."""
    statement = sql.render(settings, ADDED_COLUMNS_SQL, load_tables=sql.load_tables(settings, contract, batch_id))
    found = [(name, row["accepted"]) for row in bq_calls.query_rows(client, statement)
             for name in json.loads(row["columns_added"])]
    return (checked_extra_columns(contract, [n for n, accepted in found if accepted]),
            checked_extra_columns(contract, [n for n, _ in found]))


def add_columns(client, settings: Settings, dataset: str, table: str, fields: list[dict[str, str]]) -> list[str]:
    """Add NULLABLE ``fields`` the table lacks (rows kept); returns the names it lacked.
    Also how provisioning brings an older local table up to date."""
    from google.cloud import bigquery

    table_id = f"{settings.project}.{dataset}.{table}"
    have = {f.name for f in client.get_table(table_id).schema}
    missing = [f for f in fields if f["name"] not in have]
    for field in missing:
        if field.get("mode") == "REQUIRED":
            raise ValueError(f"the REQUIRED column {field['name']} cannot be added to {table_id} in place")
        if not (sql.IDENT.fullmatch(field["name"]) and sql.IDENT.fullmatch(field["type"])):
            raise ValueError(f"invalid column {field['name']!r} {field['type']!r} in {table_id}")
        client.query(f"ALTER TABLE `{sql.table_ref(settings, dataset, table)}` "
                     f"ADD COLUMN IF NOT EXISTS {field['name']} {field['type']}").result()
    current = client.get_table(table_id)
    unlisted = [f for f in missing if f["name"] not in {s.name for s in current.schema}]
    if unlisted:
        current.schema = [*current.schema, *(bigquery.SchemaField.from_api_repr(dict(f)) for f in unlisted)]
        client.update_table(current, ["schema"])
    return [f["name"] for f in missing]


def evolve_tables(client, settings: Settings, contract: Contract, names: list[str]) -> list[str]:
    """Add the evolved columns to raw and staging; returns ``table.column`` for each added."""
    added = []
    for kind in ("raw", "staging"):
        dataset, table = tables.table_location(contract.feed, kind)
        added += [f"{dataset}.{table}.{name}" for name in add_columns(client, settings, dataset, table, evolved_fields(names))]
    return added


def carried_columns(client, settings: Settings, contract: Contract) -> list[str]:
    """The evolved columns the feed's tables hold (in raw and staging both), checked: what
    publish_raw and merge_staging carry besides the contract's columns."""
    known = known_columns(contract)
    held = []
    for kind in ("raw", "staging"):
        dataset, table = tables.table_location(contract.feed, kind)
        schema = client.get_table(f"{settings.project}.{dataset}.{table}").schema
        held.append({f.name for f in schema if f.name.lower() not in known})
    return checked_extra_columns(contract, sorted(held[0] & held[1]))


def valid_load_schema(contract: Contract, extra: list[str]) -> list[dict[str, str]]:
    """The valid output's load schema: the contract's raw columns, then the evolved ones its
    Parquet files hold (feedline.validate.outputs.valid_schema, the same order). A column the
    tables carry from earlier batches is not in the files, so not in the load: publish_raw
    gives it NULL (the emulator fails a Parquet load whose schema names a column a file lacks)."""
    return [*tables.load_output_schema(contract, "valid"), *evolved_fields(extra)]
