"""The Airflow Assets a feed's DAG updates, for data-aware scheduling downstream.

Each feed's staging table is an Asset, an outlet of merge_staging; each reporting view is one,
an outlet of its refresh_<view> task. A task emits its outlets' asset events only when it
succeeds: a dry run (merge_staging and the refreshes skipped) or a run that found nothing to
claim updates no Asset, so a DAG scheduled on one starts only when new data is really there.

A downstream DAG in the same environment schedules on the same objects::

    from feedline.orchestrate.assets import staging_asset
    with DAG("my_report", schedule=[staging_asset("transactions")], ...): ...

(examples/dags/feedline_example_consumer.py). Each event's extra names the batch
(``batch_id``, as in raw's ``_batch_id`` and the audit), so a consumer can read just what that
batch brought. The URIs come from feedline.contract.tables;
an Asset declared by URI alone gets that URI as its name too, so ``Asset("bigquery://...")``
written out by hand is the same Asset.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from airflow.sdk import Asset

from feedline.contract import tables
from feedline.contract.model import Contract, ReportingView
from feedline.orchestrate.tasks import CLAIM_TASK
from feedline.settings import Settings, from_env


def staging_asset(feed: str, settings: Settings | None = None, version: int = 1) -> Asset:
    """The feed's staging table (the project from ``settings``, else the environment's)."""
    return Asset(tables.staging_asset_uri((settings or from_env()).project, feed, version))


def view_asset(view: ReportingView, settings: Settings | None = None) -> Asset:
    return Asset(tables.view_asset_uri((settings or from_env()).project, view.name))


def feed_assets(contract: Contract, settings: Settings) -> list[Asset]:
    """Every Asset the feed's DAG updates: staging, then the reporting views in contract order."""
    return [staging_asset(contract.feed, settings, contract.version), *(view_asset(v, settings) for v in contract.reporting)]


def name_the_batch(context: Mapping[str, Any], result: Any = None) -> None:
    """post_execute of a task with outlets: its asset events carry the batch id claim_files
    pushed (runs only after the task succeeded, before its events are sent)."""
    batch_id = context["ti"].xcom_pull(task_ids=CLAIM_TASK, key="batch_id")
    for asset in context["task"].outlets:
        context["outlet_events"][asset].extra["batch_id"] = batch_id
