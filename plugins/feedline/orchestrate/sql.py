"""SQL for a feed: identifiers for the templates in ``sql/`` and the query parameters.

Templates get identifiers only, all derived from the contract and ``tables.json`` and checked
against a strict pattern; every value (batch id, timestamps, run ids) is a query parameter.
The DAG lets Airflow render the templates (``{% include %}`` with these params); tests and
local provisioning render them with :func:`render`, the same Jinja over the same files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import jinja2

from feedline.contract import tables
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


def load_table_ref(settings: Settings, contract: Contract, output: str) -> str:
    """The feed's load table for one Beam output (rewritten by every batch; runs of a feed
    are serial, max_active_runs=1)."""
    return table_ref(settings, tables.dataset_names()["load"], f"{contract.feed}_{output}")


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
        "load_valid_table": load_table_ref(settings, contract, "valid"),
        "load_deadletter_table": load_table_ref(settings, contract, "deadletter"),
        "load_summary_table": load_table_ref(settings, contract, "summary"),
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


def reporting_select(settings: Settings, view: ReportingView) -> str:
    return render(
        settings,
        f"reporting/{view.name}.sql",
        project=settings.project,
        staging_dataset=tables.dataset_names()["staging"],
    )


def create_materialized_view(settings: Settings, view: ReportingView) -> str:
    """Plain CREATE MATERIALIZED VIEW (local emulator); BigQuery's options come from Terraform."""
    return f"CREATE MATERIALIZED VIEW `{reporting_view_ref(settings, view)}` AS\n{reporting_select(settings, view)}"


def refresh_statement(view_ref: str) -> str:
    _checked(*view_ref.split("."))
    return f"CALL BQ.REFRESH_MATERIALIZED_VIEW('{view_ref}')"


def query_parameter(name: str, type_: str, value: Any) -> dict[str, Any]:
    """One BigQuery API query parameter (value may be an Airflow template string)."""
    return {"name": name, "parameterType": {"type": type_}, "parameterValue": {"value": value}}


def query_job(sql: str, parameters: list[dict[str, Any]]) -> dict[str, Any]:
    """BigQueryInsertJobOperator configuration for a standard-SQL query with parameters."""
    return {"query": {"query": sql, "useLegacySql": False, "queryParameters": parameters}}
