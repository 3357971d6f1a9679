"""Faults injected into whole DAG runs (`airflow dags test`, retries included) against the
emulators: a service killed half way and started again, the Beam job killed half way. Each case
ends with every table as one clean run of the same batch leaves it (content fingerprints) and
the audit saying the same. The fault is placed by what the run's own log says it is doing (a
line of the streamed log), or by what the Beam job has written, never by a guessed delay.

Faults at the claim and the settle: integration/test_claim_faults.py."""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import threading
import time

import psutil
import pyarrow.parquet as pq
import pytest
import requests
from google.api_core.exceptions import GoogleAPIError

from feedline.contract import naming
from feedline.local import stack
from feedline.orchestrate import sql
from feedline.settings import REPO_ROOT
from integration.test_dag_runs import dags_test, drop, fingerprint
from support import kill, reset, rows, run_state

pytestmark = pytest.mark.airflow

SAMPLE = "customers_20261126.csv"
RUN_AFTER = "2026-11-28T00:00:00+00:00"
BATCH = naming.batch_id_for_dag_run("customers", f"manual__{RUN_AFTER}")
OUTAGE_SECONDS = 10  # how long a killed emulator stays down: its callers' bounded retries outlast it


def outcome(bq, p) -> dict:
    """What a run leaves: each table's content and the audit's counts."""
    return {
        **{kind: fingerprint(bq, p[kind]) for kind in ("raw_table", "staging_table", "deadletter_table")},
        "view": fingerprint(bq, p["reporting_views"][0]),
        "audit": rows(bq, f"SELECT attempt, source_file, status, rows_read, rows_loaded, rows_deadletter, reason "
                          f"FROM `{p['audit_table']}` ORDER BY attempt, source_file"),
    }


def fresh_drop(settings, contracts, gcs) -> None:
    """Empty stack, the sample in landing: the run that follows is the batch's attempt 0 (its
    manifest went with the reset)."""
    reset(settings, contracts)
    drop(gcs, settings, "customers", SAMPLE, (REPO_ROOT / "samples" / SAMPLE).read_bytes())


@pytest.fixture(scope="module")
def clean(local_stack, contracts):
    """One fault-free run of the batch, shared by every case: what each must end as."""
    from feedline.local.provision import bigquery_client, storage_client
    from feedline.settings import from_env

    settings = from_env()
    bq, gcs = bigquery_client(settings.project), storage_client(settings.project)
    fresh_drop(settings, contracts, gcs)
    assert run_state(log := dags_test(local_stack, "customers", RUN_AFTER)) == "success", log[-3000:]
    result = outcome(bq, sql.template_params(settings, contracts["customers"]))
    assert result["audit"] and result["audit"][0]["rows_loaded"] > 0
    return result


def dags_test_watched(config, feed: str, run_after: str, on_line) -> str:
    """dags_test, with each line of the run's log handed to ``on_line`` as it is written."""
    env = {**os.environ, **stack.service_env(config), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "feedline.local.run_dag", f"feedline_{feed}", "--run-after", run_after],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    lines = []
    try:
        for line in process.stdout:
            lines.append(line)
            on_line(line, process)
        process.wait(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    log = "".join(lines)
    with (config.root / "logs" / f"run-{feed}-{run_after[:10]}.log").open("a") as handle:
        handle.write(log)
    return log


def test_bigquery_killed_as_the_loads_start_and_back_a_moment_later_changes_nothing(
    clean, local_stack, settings, contracts, gcs, bq
):
    p = sql.template_params(settings, contracts["customers"])
    fresh_drop(settings, contracts, gcs)
    summary_prefix = f"{naming.output_prefix('customers', BATCH)}summary/"
    killed = threading.Event()

    # BigQuery killed the moment the Beam job's summary lands, before load_summary's job.
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


# The line a task logs as it submits its statement (BigQueryInsertJobOperator), or as it starts
# (check_batch, a Python task whose first call is its audit query).
FAULT_LINES = {
    "merge_staging": "Inserting job feedline_customers_merge_staging_clear0_try1_",
    "record_audit": "Inserting job feedline_customers_record_audit_clear0_try1_",
    "check_batch": "[DAG TEST] starting task_id=check_batch",
}


@pytest.mark.parametrize("task_id", list(FAULT_LINES))
def test_bigquery_killed_during_the_merge_or_the_audit_changes_nothing(
    task_id, clean, local_stack, settings, contracts, gcs, bq
):
    """BigQuery SIGKILLed the moment the task sends its statement (the job may have run or not:
    the task cannot tell), back OUTAGE_SECONDS later: the task's retried calls, or its next try
    with a new job, run the statement again, and every statement is idempotent per batch."""
    p = sql.template_params(settings, contracts["customers"])
    fresh_drop(settings, contracts, gcs)
    restart = threading.Timer(OUTAGE_SECONDS, stack.up, [local_stack])  # from its data folder
    killed = threading.Event()

    def on_line(line: str, process) -> None:
        if not killed.is_set() and FAULT_LINES[task_id] in line:
            kill(local_stack, "bigquery")
            killed.set()
            restart.start()

    log = dags_test_watched(local_stack, "customers", RUN_AFTER, on_line)
    assert killed.is_set(), f"{task_id} never sent its statement"
    restart.join()  # BigQuery is back for the next test whatever the run did
    assert run_state(log) == "success", log[-3000:]
    assert outcome(bq, p) == clean


def beam_job(parent: int, pipeline: str) -> psutil.Process | None:
    """The Beam job validate_rows started (a child process running the pipeline file)."""
    for child in psutil.Process(parent).children(recursive=True):
        try:
            if any(pipeline in part for part in child.cmdline()):
                return child
        except psutil.NoSuchProcess:
            continue
    return None


def test_the_beam_job_killed_half_way_is_run_again_and_the_batch_ends_as_a_clean_one(
    clean, local_stack, settings, contracts, gcs, bq
):
    """The job is SIGKILLed once it has written valid rows (a file being written or committed),
    before it finished (it is frozen while that is checked): the try fails, validate_rows'
    retry runs the job again, and what the killed job left behind is never loaded twice."""
    p = sql.template_params(settings, contracts["customers"])
    fresh_drop(settings, contracts, gcs)
    outputs = naming.output_prefix("customers", BATCH)
    killed: list[list[str]] = []

    def look(prefix: str) -> list[str]:
        """The objects under ``prefix``; none when the emulator does not answer within 5 s
        (frozen in the middle of a request, the job holds it: the next look comes after a thaw)."""
        try:
            return [b.name for b in gcs.list_blobs(settings.work_bucket, prefix=prefix, timeout=5, retry=None)]
        except (requests.exceptions.RequestException, GoogleAPIError):
            return []

    def fault(process) -> None:
        deadline = time.monotonic() + 400
        while time.monotonic() < deadline and process.poll() is None:
            job = beam_job(process.pid, str(settings.beam_pipeline))
            if job is None:
                time.sleep(0.1)
                continue
            # Frozen while its outputs are looked at, so what is seen is what the kill leaves.
            # Whatever the look raises, the job is thawed again unless it was killed: a job
            # left frozen mid-request would hold the (single-threaded) GCS emulator for good.
            group = []
            try:
                for member in [job, *job.children(recursive=True)]:
                    member.suspend()
                    group.append(member)
                written = look(f"{outputs}valid/")
                if written:  # rows written, the job not finished: half way
                    for member in group:
                        member.kill()
                    killed.append(written)
                    return
            except psutil.NoSuchProcess:
                pass  # the job (or a worker) ended in the meantime: look again
            finally:
                if not killed:
                    for member in group:
                        with contextlib.suppress(psutil.NoSuchProcess):
                            member.resume()
            # Runs a moment between two looks: however busy the machine, the job cannot pass
            # the stretch between writing its valid rows and finishing unseen.
            time.sleep(0.05)

    started = threading.Event()

    def on_line(line: str, process) -> None:
        if not started.is_set() and "[DAG TEST] starting task_id=validate_rows" in line:
            started.set()
            threading.Thread(target=fault, args=(process,), daemon=True).start()

    log = dags_test_watched(local_stack, "customers", RUN_AFTER, on_line)
    assert killed, "the Beam job was never caught half way"
    assert run_state(log) == "success", log[-3000:]
    assert outcome(bq, p) == clean
    # The retried job deleted what the killed one left at its launch: what load_valid's
    # pattern reads holds the rows of one job, not two.
    read = f"{outputs}valid/{naming.OUTPUT_FILES.removesuffix('*')}"
    loadable = [b for b in gcs.list_blobs(settings.work_bucket, prefix=read)]
    raw = rows(bq, f"SELECT COUNT(*) AS n FROM `{p['raw_table']}` WHERE _batch_id = @b", b=BATCH)[0]["n"]
    loaded = sum(pq.read_metadata(io.BytesIO(b.download_as_bytes())).num_rows for b in loadable)
    assert loaded == raw, [b.name for b in loadable]
