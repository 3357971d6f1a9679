"""Lineage that the Feedline tasks add to OpenLineage (the Google operators report their own).

The BigQuery operators report what their SQL reads and writes (load table -> raw -> staging,
the audit) and the load jobs their GCS sources. What they cannot know is reported here, through
Airflow's hook lineage collector, which the OpenLineage provider reads when a task ends:

- claim_files: the landed objects (or the archive day of a backfill) -> the batch's processing folder;
- validate_rows (the Beam job): the processing folder -> the job's valid/, deadletter/, summary/;
- settle_files: the processing folder -> the archive and quarantine folders the files went to;
- refresh_<view>: staging -> the view (``CALL BQ.REFRESH_MATERIALIZED_VIEW`` names no table a
  SQL parser can read).

Folders, not objects, stand for a batch's intermediate files (as the load jobs' ``valid/*``
sources do), so one batch is a handful of datasets whatever its size. The collector keeps at most
[lineage] max_assets_per_collector (100) per task: a claim of more landed objects reports the
first 100. Without the provider (or with no transport configured) the collector does nothing.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping
from typing import Any

from feedline.contract import naming, tables
from feedline.contract.model import Contract
from feedline.settings import Settings
from feedline.storage.claims import Claim


def gcs_uri(bucket: str, name: str) -> str:
    """A GCS object or folder as an Asset URI (OpenLineage: namespace gs://bucket, name the path)."""
    return f"gs://{bucket}/{name.rstrip('/')}"


def processing_uri(settings: Settings, contract: Contract, batch_id: str) -> str:
    return gcs_uri(settings.landing_bucket, naming.processing_prefix(contract.feed, batch_id))


def claimed_inputs(settings: Settings, contract: Contract, claim: Claim) -> list[str]:
    """Where the claim took each file from: its landing object, or the archive day of a backfill.
    A re-run's own files were already in the batch's processing folder."""
    uris = []
    for f in claim.files:
        if f.origin == "landing":
            uris.append(gcs_uri(settings.landing_bucket, naming.landing_prefix(contract.feed) + f.name))
        elif f.origin == "archive":
            uris.append(gcs_uri(settings.archive_bucket, naming.archive_date_prefix(contract.feed, f.file_date)))
    return list(dict.fromkeys(uris))


def job_outputs(settings: Settings, contract: Contract, batch_id: str) -> list[str]:
    prefix = naming.output_prefix(contract.feed, batch_id)
    return [gcs_uri(settings.work_bucket, prefix + output) for output in tables.LOAD_OUTPUTS]


def settled_outputs(places: Iterable[str]) -> list[str]:
    """The folders settled files went to (``gs://bucket/.../name`` places)."""
    return list(dict.fromkeys(posixpath.dirname(place) for place in places if place))


def view_lineage(settings: Settings, contract: Contract, view_name: str) -> tuple[list[str], list[str]]:
    staging = tables.staging_asset_uri(settings.project, contract.feed, contract.version)
    return [staging], [tables.view_asset_uri(settings.project, view_name)]


def report(task: Any, inputs: Iterable[str], outputs: Iterable[str]) -> None:
    """Hand a task's inputs and outputs to the hook lineage collector of this task process."""
    from airflow.sdk.lineage import get_hook_lineage_collector

    collector = get_hook_lineage_collector()
    for uri in inputs:
        collector.add_input_asset(context=task, uri=uri)
    for uri in outputs:
        collector.add_output_asset(context=task, uri=uri)


def report_beam_job(settings: Settings, contract: Contract):
    """pre_execute of validate_rows: the batch it validates comes from claim_files' XCom."""

    def pre_execute(context: Mapping[str, Any]) -> None:
        from feedline.orchestrate.tasks import CLAIM_TASK

        batch_id = context["ti"].xcom_pull(task_ids=CLAIM_TASK, key="batch_id")
        report(context["task"], [processing_uri(settings, contract, batch_id)], job_outputs(settings, contract, batch_id))

    return pre_execute


def report_view_refresh(settings: Settings, contract: Contract, view_name: str):
    """pre_execute of refresh_<view>: staging -> the view."""

    def pre_execute(context: Mapping[str, Any]) -> None:
        report(context["task"], *view_lineage(settings, contract, view_name))

    return pre_execute
