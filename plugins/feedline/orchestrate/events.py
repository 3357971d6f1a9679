"""Feedline's own failure and audit signal: one structured log entry per audited batch and per
failed task, under a fixed log name, with a JSON payload.

The log-based metrics and alerts (terraform/modules/events, terraform/modules/monitoring) filter on
this log name and these payload fields, never on Airflow's or Composer's log format, so an ERROR
line of some library (a 403 of a secrets lookup, say) cannot page anyone. ``events.json`` beside
this module is the one source of the log name, the resource type and each kind's fields, read
here and by Terraform. The payload builders are pure; :func:`emit` sends an entry to Cloud
Logging, or to the process log on the local stack (no cloud there).
"""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

from feedline.contract import naming
from feedline.contract.model import Contract
from feedline.orchestrate import audit
from feedline.settings import Settings

log = logging.getLogger(__name__)

EVENTS_JSON = Path(__file__).with_name("events.json")


@lru_cache(maxsize=1)
def spec() -> dict[str, Any]:
    """events.json: log_name, resource_type, kinds (fields, statuses), paging_tasks."""
    return json.loads(EVENTS_JSON.read_text())


def audit_status(contract: Contract, report: dict[str, Any]) -> str:
    """What check_batch makes of the batch, in the order it acts on it."""
    if audit.lost_rows_error(report):
        return "lost_rows"
    if audit.exceeds_threshold(contract, report):
        return "deadletter_above_threshold"
    return "ok"


def batch_audited(
    settings: Settings, contract: Contract, run_id: str, batch_id: str, attempt: int, report: dict[str, Any]
) -> dict[str, Any]:
    """The entry check_batch writes for every batch attempt it audits."""
    return checked({
        "kind": "batch_audited",
        "status": audit_status(contract, report),
        "env": settings.env,
        "feed": contract.feed,
        "dag_id": naming.dag_id(contract.feed),
        "run_id": run_id,
        "batch_id": batch_id,
        "attempt": int(attempt),
        "rows_read": int(report["rows_read"]),
        "rows_loaded": int(report["rows_loaded"]),
        "rows_deadletter": int(report["rows_deadletter"]),
        "deadletter_share": float(report["share"]),
    })


def feed_of(dag_id: str) -> str:
    prefix = naming.dag_id("")
    return dag_id[len(prefix):] if dag_id.startswith(prefix) else dag_id


def task_failed(settings: Settings, context: dict[str, Any]) -> dict[str, Any]:
    """The entry of a task that failed for good (Airflow calls on_failure_callback once the
    retries are spent; a retried attempt is not a failure of the pipeline)."""
    ti = context["ti"]
    exception = context.get("exception")
    return checked({
        "kind": "task_failed",
        "status": "failed",
        "env": settings.env,
        "feed": feed_of(ti.dag_id),
        "dag_id": ti.dag_id,
        "run_id": context.get("run_id") or ti.run_id,
        "task_id": ti.task_id,
        "try_number": int(ti.try_number),
        "error": str(exception)[:500] if exception is not None else "",
    })


def checked(payload: dict[str, Any]) -> dict[str, Any]:
    """The payload, if it has exactly its kind's fields and a declared status (ValueError)."""
    kind = spec()["kinds"].get(payload.get("kind"))
    if kind is None:
        raise ValueError(f"unknown event kind {payload.get('kind')!r}")
    if list(payload) != kind["fields"]:
        raise ValueError(f"{payload['kind']} fields {list(payload)} != events.json {kind['fields']}")
    if payload["status"] not in kind["statuses"]:
        raise ValueError(f"{payload['kind']} status {payload['status']!r} not in {kind['statuses']}")
    return payload


def severity(payload: dict[str, Any]) -> str:
    if payload["kind"] == "task_failed":
        return "ERROR"
    return "INFO" if payload["status"] == "ok" else "WARNING"


def cloud_logger(settings: Settings):
    """The Cloud Logging logger of the fixed log name, with the environment's own credentials
    (ADC of the Composer account; no Airflow connection is looked up)."""
    from google.cloud import logging as cloud_logging

    return cloud_logging.Client(project=settings.project).logger(spec()["log_name"])


def emit(settings: Settings, payload: dict[str, Any], logger=None) -> None:
    """Send the entry: Cloud Logging in the cloud, the process log locally. ``logger`` is a
    google.cloud.logging Logger (tests pass a fake)."""
    if settings.env == "local" and logger is None:
        log.info("%s %s", spec()["log_name"], json.dumps(payload, sort_keys=True))
        return
    from google.cloud.logging import Resource

    logger = logger or cloud_logger(settings)
    logger.log_struct(
        payload,
        severity=severity(payload),
        resource=Resource(type=spec()["resource_type"], labels={"project_id": settings.project}),
    )


class FailureEvent:
    """on_failure_callback writing the task_failed entry. Never raises: a callback that fails
    must not hide the task's own error (the Slack and PagerDuty notifiers still run)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def __call__(self, context: dict[str, Any]) -> None:
        try:
            emit(self.settings, task_failed(self.settings, context))
        except Exception:  # noqa: BLE001 - logged, the task's failure stands as it is
            log.exception("could not write the task_failed event")
