"""Data-aware scheduling through the real scheduler (tests/airflow_services.py): the example
consumer (examples/dags/feedline_example_consumer.py), scheduled on the transactions staging
Asset, starts after an ingest run and is told which batch it was; a dry run of the same file
(merge_staging and the refreshes skipped) emits no asset event and starts nothing.

The DAGs folder holds dags/feedline_feeds.py and the example, as a Composer environment with a
downstream DAG beside Feedline's would."""

from __future__ import annotations

import shutil
import urllib.parse

import pytest

from feedline.contract import naming, tables
from feedline.orchestrate import sql
from feedline.settings import REPO_ROOT
from airflow_services import Airflow, airflow_services, free_port
from support import contracts_dir, reset, rows

pytestmark = pytest.mark.airflow
TRANSACTIONS = naming.dag_id("transactions")
CONSUMER = "example_transactions_staged"
FILE = "transactions_20261126.csv"


@pytest.fixture(scope="module")
def airflow(local_stack, tmp_path_factory):
    """The scheduler's own scheduling on (asset-triggered runs are created by it, as cron runs
    are: `use_job_schedule` off, which the local stack defaults to, starts no consumer), and the
    feeds' cron off, so no sweep takes the test's file."""
    home = tmp_path_factory.mktemp("assets-airflow")
    dags = home / "dags"
    dags.mkdir()
    shutil.copy(REPO_ROOT / "dags" / "feedline_feeds.py", dags)
    shutil.copy(REPO_ROOT / "examples" / "dags" / "feedline_example_consumer.py", dags)
    folder = contracts_dir(home, customers={"schedule": None}, transactions={"schedule": None})
    env = {"AIRFLOW__CORE__DAGS_FOLDER": str(dags), "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
           "FEEDLINE_CONTRACTS_DIR": folder, "FEEDLINE_CONTRACTS_URI": folder}
    with airflow_services(local_stack, home, free_port(), env) as running:
        running.wait_for_dag(TRANSACTIONS)
        running.wait_for_dag(CONSUMER)
        yield running


def ended(airflow: Airflow, dag_id: str, run_id: str, timeout: float = 420) -> dict:
    return airflow.wait_until(
        f"{run_id} ends", lambda: (r := airflow.run(dag_id, run_id))["state"] in ("success", "failed") and r,
        timeout, every=2,
    )


def asset_events(airflow: Airflow, source_run_id: str) -> list[dict]:
    """The asset events the feed DAG's run emitted, by any of its tasks."""
    found = airflow.request("GET", f"/api/v2/assets/events?source_dag_id={TRANSACTIONS}&limit=1000")["asset_events"]
    return sorted((e for e in found if e["source_run_id"] == source_run_id), key=lambda e: e["source_task_id"])


def test_an_ingest_run_starts_the_consumer_of_the_staging_asset_and_a_dry_run_does_not(
    airflow, local_stack, settings, contracts, gcs, bq
):
    contract = contracts["transactions"]
    reset(settings, contracts)
    gcs.bucket(settings.landing_bucket).blob(naming.landing_prefix("transactions") + FILE).upload_from_string(
        (REPO_ROOT / "samples" / FILE).read_bytes()
    )
    staging_uri = tables.staging_asset_uri(settings.project, "transactions")
    [view] = contract.reporting
    view_uri = tables.view_asset_uri(settings.project, view.name)

    # A dry run validates the file and leaves it in landing: merge_staging and the refresh are
    # skipped, and a skipped task emits no asset event.
    dry = airflow.trigger(TRANSACTIONS, {"files": [FILE], "dry_run": True})["dag_run_id"]
    dry_run = ended(airflow, TRANSACTIONS, dry)
    assert dry_run["state"] == "success", airflow.task_states(TRANSACTIONS, dry)
    states = airflow.task_states(TRANSACTIONS, dry)
    assert (states["merge_staging"], states[f"refresh_{view.name}"]) == ("skipped", "skipped"), states
    assert asset_events(airflow, dry) == []

    run_id = airflow.trigger(TRANSACTIONS, {"files": [FILE]})["dag_run_id"]
    run = ended(airflow, TRANSACTIONS, run_id)
    assert run["state"] == "success", airflow.task_states(TRANSACTIONS, run_id)
    batch = naming.batch_id_for_dag_run("transactions", run_id, run["run_type"])
    emitted = asset_events(airflow, run_id)
    assert [(e["uri"], e["source_task_id"], e["extra"]) for e in emitted] == [
        (staging_uri, "merge_staging", {"batch_id": batch}),
        (view_uri, f"refresh_{view.name}", {"batch_id": batch}),
    ]

    consumer = airflow.wait_until("the consumer's run", lambda: airflow.runs(CONSUMER), 120, every=2)
    [consumed] = consumer  # one run: the dry run started none
    assert consumed["run_type"] == "asset_triggered"
    done = ended(airflow, CONSUMER, consumed["dag_run_id"], timeout=240)
    assert done["state"] == "success", airflow.task_states(CONSUMER, consumed["dag_run_id"])
    consumer_run = f"/api/v2/dags/{CONSUMER}/dagRuns/{urllib.parse.quote(consumed['dag_run_id'], safe='')}"
    upstream = airflow.request("GET", f"{consumer_run}/upstreamAssetEvents")["asset_events"]
    assert [(e["uri"], e["source_dag_id"], e["source_run_id"], e["source_task_id"]) for e in upstream] == [
        (staging_uri, TRANSACTIONS, run_id, "merge_staging")
    ]
    created = {e["uri"]: [(r["dag_id"], r["run_id"]) for r in e["created_dagruns"]] for e in asset_events(airflow, run_id)}
    assert created == {staging_uri: [(CONSUMER, consumed["dag_run_id"])], view_uri: []}

    # What the consumer saw: the batch, and staging as the batch left it (one row per key of
    # its raw rows; the dry run's batch is audited as such and published nothing).
    p = sql.template_params(settings, contract)
    staged = rows(bq, f"SELECT COUNT(*) AS n FROM `{p['staging_table']}`")[0]["n"]
    keys = rows(bq, f"SELECT COUNT(DISTINCT transaction_id) AS n FROM `{p['raw_table']}` WHERE _batch_id = @b",
                b=batch)[0]["n"]
    audit = rows(bq, f"SELECT batch_id, dry_run FROM `{p['audit_table']}` ORDER BY dry_run")
    assert audit == [{"batch_id": batch, "dry_run": False},
                     {"batch_id": naming.batch_id_for_dag_run("transactions", dry, dry_run["run_type"]), "dry_run": True}]
    assert staged == keys > 0
    report = airflow.request("GET", f"{consumer_run}/taskInstances/report_staged_batches/xcomEntries/return_value")["value"]
    assert report == {"batches": [batch], "source_runs": [run_id], "staging_rows": staged}
