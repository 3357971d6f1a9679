"""The run params of a feed's DAG (what the UI's trigger form and a run's conf may set), and
the check that refuses a conf key that is none of them.

Airflow validates a Param's type, but accepts any conf key it does not know: a typo
(``{"file": [...]}``) would silently become "ingest everything". choose_source, the first
task, calls :func:`unknown_keys_error` before anything touches data. A param whose default
means "all" or "off" is nullable with default None, so the UI does not mark it required; the
tasks read None as empty or false (:func:`flag`, :func:`file_list`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Param
from airflow.sdk.exceptions import AirflowSkipException

RUN_PARAMS = {
    "files": Param(
        None, type=["null", "array"], items={"type": "string"},
        description="Only these objects of the landing bucket (names or paths); empty = all.",
    ),
    "date": Param(
        None, type=["null", "string"], pattern=r"^[0-9]{8}$",
        description="Only files whose name carries this date (YYYYMMDD).",
    ),
    "from_archive": Param(
        None, type=["null", "boolean"],
        description="Re-ingest the archived files of `date` (what a backfill does). Empty = off.",
    ),
    # A file whose bytes an earlier batch ingested is archived as a duplicate, not validated
    # again; this turns that off for one run (a backfill always re-ingests).
    "force_reingest": Param(
        None, type=["null", "boolean"],
        description=(
            "Validate and load every claimed file even when an earlier batch ingested the same content "
            "(a deliberate re-run). Off: such a file is archived with a `duplicate` audit row naming that "
            "batch. Empty = off."
        ),
    ),
    # A dry run copies the files it validates instead of moving them (they stay in landing,
    # where the next real run finds them; moving them out and back would re-fire the landing
    # trigger), loads and audits them in its own batch's load tables, sends the Slack summary,
    # and publishes nothing: raw, deadletter, staging and reporting stay as they were.
    "dry_run": Param(
        None, type=["null", "boolean"],
        description=(
            "Validate and report only: the files are copied, not moved (they stay in landing for the "
            "next real run); the batch is loaded into its own load tables, audited (audit rows with "
            "dry_run = true) and summarised on Slack; nothing is published to raw, deadletter, "
            "staging or reporting, and nothing is archived or quarantined. Empty = off."
        ),
    ),
}


def unknown_keys_error(conf: Mapping[str, Any] | None, allowed: Mapping[str, Any] = RUN_PARAMS) -> str | None:
    """Why a run's conf must be refused: the keys that are not params, and the ones that are."""
    unknown = sorted(set(conf or {}) - set(allowed))
    if not unknown:
        return None
    return f"unknown conf key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}"


def flag(run_params: Mapping[str, Any], name: str) -> bool:
    """A boolean param, None (not set) read as off."""
    return bool(run_params.get(name))


def file_list(run_params: Mapping[str, Any]) -> list[str]:
    """The ``files`` param, None (not set) read as empty (= all files)."""
    return list(run_params.get("files") or [])


def skip_in_dry_run(context: Mapping[str, Any]) -> None:
    """Pre-execute hook of the tasks that publish: a dry run skips them (shown as skipped)."""
    if flag(context["params"], "dry_run"):
        raise AirflowSkipException("dry run: nothing is published")
