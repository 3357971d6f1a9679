"""SQL for a feed: identifiers for the templates in ``sql/`` and the query parameters.

Templates get identifiers only, all derived from the contract and ``tables.json`` and checked
against a strict pattern; every value (batch id, timestamps, run ids) is a query parameter.
The batch's load tables are per batch: templates get them as ``load_tables`` (output -> table),
from :func:`load_tables` (validated like every identifier). The DAG lets Airflow render the
templates (:func:`with_load_tables`: ``{% include %}`` with these params and the DAG's
``feedline_load_tables`` macro); tests and the audit render them with :func:`render`, the same
Jinja over the same files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from feedline.contract import naming, tables
from feedline.contract.model import Contract, ReportingView
from feedline.settings import Settings

PROJECT_ID = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _checked(project: str, *names: str) -> str:
    if not PROJECT_ID.match(project):
        raise ValueError(f"invalid project id {project!r}")
    for name in names:
        if not IDENT.match(name):
            raise ValueError(f"invalid BigQuery identifier {name!r}")
    return ".".join((project, *names))


def table_ref(settings: Settings, dataset: str, table: str) -> str:
    return _checked(settings.project, dataset, table)


# What naming.batch_id_for_run gives; checked again here because a batch id becomes part of
# a table name ([0-9], not \d: \d accepts any Unicode digit).
BATCH_ID = re.compile(r"^[a-z0-9_]{1,64}$")
# The DAG's macro: ``{{ feedline_load_tables(run_id, dag_run.run_type) }}`` (dag_factory.feed_dag).
LOAD_TABLES_MACRO = "feedline_load_tables"


def load_table_ref(settings: Settings, contract: Contract, output: str, batch_id: str) -> str:
    """The batch's own load table for one Beam output: ``feedline_load.<feed>_<batch>_<output>``.

    Per batch, so runs of a feed that overlap (backfills, events beside a sweep) never read each
    other's rows; the load operators recreate it, drop_load_tables removes it once the batch is
    settled and the load dataset's default expiration removes what a failed batch left."""
    if output not in tables.LOAD_OUTPUTS:
        raise ValueError(f"{output!r} is not a Beam output ({', '.join(tables.LOAD_OUTPUTS)})")
    if not isinstance(batch_id, str) or not BATCH_ID.match(batch_id):
        raise ValueError(f"invalid batch id {batch_id!r}")
    return table_ref(settings, tables.dataset_names()["load"], f"{contract.feed}_{batch_id}_{output}")


def load_tables(settings: Settings, contract: Contract, batch_id: str) -> dict[str, str]:
    """The batch's load tables by output: what the templates in sql/ get as ``load_tables``."""
    return {output: load_table_ref(settings, contract, output, batch_id) for output in tables.LOAD_OUTPUTS}


def load_tables_for_run(
    settings: Settings, contract: Contract, run_id: str, run_type: str | None = None
) -> dict[str, str]:
    """The DAG's macro: the load tables of the batch of a DAG run (the batch id derived from the
    run id as claim_files derives it, so no XCom text ever reaches an identifier)."""
    return load_tables(settings, contract, naming.batch_id_for_dag_run(contract.feed, run_id, run_type))


# The DAG's macro: ``{{ feedline_extra_columns(ti) }}``, the evolved columns the feed's tables
# hold (evolve_columns' XCom, checked again as identifiers before any template sees them).
EXTRA_COLUMNS_MACRO = "feedline_extra_columns"
EVOLVE_TASK = "evolve_columns"
# ``{{ feedline_loaded_columns(ti) }}``: the evolved columns the batch's valid load table holds
# (the rest of the extra columns are NULL for its rows), evolve_columns' XCom of that key.
LOADED_COLUMNS_MACRO = "feedline_loaded_columns"
LOADED_COLUMNS_KEY = "loaded_columns"


def extra_columns_of_run(contract: Contract, ti) -> list[str]:
    """The macro: what evolve_columns returned for this run, each name checked."""
    from feedline.orchestrate import columns

    return columns.checked_extra_columns(contract, list(ti.xcom_pull(task_ids=EVOLVE_TASK) or []))


def loaded_columns_of_run(contract: Contract, ti) -> list[str]:
    """The macro: the evolved columns of this run's valid load table, each name checked."""
    from feedline.orchestrate import columns

    return columns.checked_extra_columns(contract, list(ti.xcom_pull(task_ids=EVOLVE_TASK, key=LOADED_COLUMNS_KEY) or []))


def with_load_tables(template: str, extra_columns: bool = False) -> str:
    """An operator's query: binds ``load_tables`` for the run (and, with ``extra_columns``, the
    evolved columns it carries as ``extra_columns``), then includes the template."""
    extra = (f"{{% set extra_columns = {EXTRA_COLUMNS_MACRO}(ti) %}}{{% set loaded_columns = {LOADED_COLUMNS_MACRO}(ti) %}}"
             if extra_columns else "")
    return f"{{% set load_tables = {LOAD_TABLES_MACRO}(run_id, dag_run.run_type) %}}{extra}{{% include '{template}' %}}"


def partition_day(contract: Contract) -> str | None:
    """SQL expression giving the day of a row's partition column (filters on it prune both
    DAY and MONTH partitioning), or None for an unpartitioned feed."""
    part = contract.partition_by
    if part is None:
        return None
    return f"DATE({part.column})" if contract.column(part.column).type == "TIMESTAMP" else part.column


def template_params(settings: Settings, contract: Contract) -> dict[str, Any]:
    """Identifiers the templates in sql/ use, as ``params.<name>``."""
    specs = tables.table_specs(contract)
    for name in contract.column_names:
        _checked(settings.project, name)
    return {
        "feed": contract.feed,
        "columns": list(contract.column_names),
        "key": list(contract.key),
        "latest_by": contract.latest_by,
        "partition_column": contract.partition_by.column if contract.partition_by else None,
        "partition_day": partition_day(contract),
        "raw_table": table_ref(settings, specs["raw"].dataset, specs["raw"].name),
        "staging_table": table_ref(settings, specs["staging"].dataset, specs["staging"].name),
        "deadletter_table": table_ref(settings, specs["deadletter"].dataset, specs["deadletter"].name),
        "audit_table": table_ref(settings, specs["audit"].dataset, specs["audit"].name),
        "raw_columns": specs["raw"].field_names(),
        "deadletter_columns": specs["deadletter"].field_names(),
        "reporting_views": [reporting_view_ref(settings, v) for v in contract.reporting],
    }


def reporting_view_id(view: ReportingView) -> str:
    return f"{tables.dataset_names()['reporting']}.{view.name}"


def reporting_view_ref(settings: Settings, view: ReportingView) -> str:
    return table_ref(settings, tables.dataset_names()["reporting"], view.name)


def _environment(sql_dir: Path) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(sql_dir)), undefined=jinja2.StrictUndefined, autoescape=False
    )


def render(settings: Settings, template: str, **context: Any) -> str:
    return _environment(settings.sql_dir).get_template(template).render(**context)


def reporting_select(settings: Settings, contract: Contract, view: ReportingView) -> str:
    """A view's SELECT over its feed's staging table (of the contract's table version)."""
    dataset, table = tables.table_location(contract.feed, "staging", contract.version)
    return render(
        settings, f"reporting/{view.name}.sql", project=settings.project, staging_dataset=dataset, staging_table=table,
    )


def create_materialized_view(settings: Settings, contract: Contract, view: ReportingView) -> str:
    """Plain CREATE MATERIALIZED VIEW (local emulator); BigQuery's options come from Terraform."""
    return f"CREATE MATERIALIZED VIEW `{reporting_view_ref(settings, view)}` AS\n{reporting_select(settings, contract, view)}"


def refresh_statement(view_ref: str) -> str:
    _checked(*view_ref.split("."))
    return f"CALL BQ.REFRESH_MATERIALIZED_VIEW('{view_ref}')"


def query_parameter(name: str, type_: str, value: Any) -> dict[str, Any]:
    """One BigQuery API query parameter (value may be an Airflow template string)."""
    return {"name": name, "parameterType": {"type": type_}, "parameterValue": {"value": value}}


def query_job(sql: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """BigQueryInsertJobOperator configuration for a standard-SQL query with parameters."""
    return {"query": {"query": sql, "useLegacySql": False, "queryParameters": parameters}}
