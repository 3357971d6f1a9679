"""Faults injected into whole DAG runs (`airflow dags test`, retries included) against the
emulators: a service killed half way and started again. Each case ends with every table as one
clean run of the same batch leaves it (content fingerprints) and the audit saying the same."""

from __future__ import annotations

import os
import signal
import threading
import time

import psutil
import pytest

from feedline.contract import naming
from feedline.local import stack
from feedline.orchestrate import sql
from feedline.settings import REPO_ROOT
from integration.test_dag_runs import dags_test, drop, fingerprint
from support import kill, reset, rows, run_state

pytestmark = pytest.mark.airflow

SAMPLE = "customers_20261126.csv"
RUN_AFTER = "2026-11-28T00:00:00+00:00"


def outcome(bq, p) -> dict:
    """What a run leaves: each table's content and the audit's counts."""
    return {
        **{kind: fingerprint(bq, p[kind]) for kind in ("raw_table", "staging_table", "deadletter_table")},
        "view": fingerprint(bq, p["reporting_views"][0]),
        "audit": rows(bq, f"SELECT source_file, status, rows_read, rows_loaded, rows_deadletter FROM `{p['audit_table']}`"),
    }


def test_bigquery_killed_as_the_loads_start_and_back_a_moment_later_changes_nothing(
    local_stack, settings, contracts, gcs, bq
):
    p = sql.template_params(settings, contracts["customers"])
    data = (REPO_ROOT / "samples" / SAMPLE).read_bytes()
    reset(settings, contracts)
    drop(gcs, settings, "customers", SAMPLE, data)
    assert run_state(log := dags_test(local_stack, "customers", RUN_AFTER)) == "success", log[-3000:]
    clean = outcome(bq, p)
    assert clean["audit"] and clean["audit"][0]["rows_loaded"] > 0

    # The same run again from scratch (same batch, attempt 0: its manifest went with the reset),
    # with BigQuery killed the moment the Beam job's summary lands, before load_summary's job.
    reset(settings, contracts)
    drop(gcs, settings, "customers", SAMPLE, data)
    batch = naming.batch_id_for_dag_run("customers", f"manual__{RUN_AFTER}")
    summary_prefix = f"{naming.output_prefix('customers', batch)}summary/"
    killed = threading.Event()

    def fault() -> None:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline:
            if list(gcs.list_blobs(settings.work_bucket, prefix=summary_prefix, max_results=1)):
                kill(local_stack, "bigquery")
                killed.set()
                time.sleep(20)  # the loads meet a dead BigQuery: their calls retry, or the try fails
                stack.up(local_stack)  # restarts what is down, from its data folder
                return
            time.sleep(0.2)

    injector = threading.Thread(target=fault)
    injector.start()
    log = dags_test(local_stack, "customers", RUN_AFTER)
    injector.join()
    assert killed.is_set(), "the Beam job's summary never appeared"
    assert run_state(log) == "success", log[-3000:]
    assert outcome(bq, p) == clean
