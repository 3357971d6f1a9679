"""Feed DAGs under a real scheduler, triggerer, dag-processor and api-server (tests/airflow_services.py):
what ``airflow dags test`` cannot show. Deadline alerts are marked missed by the scheduler and
sent by the triggerer, so they are tested here."""

from __future__ import annotations

import hashlib
import os
import random
import subprocess
import sys
import time
from datetime import datetime

import pytest

from feedline.local import stack
from feedline.local.slack_receiver import read_alerts
from feedline.orchestrate import sql
from feedline.settings import REPO_ROOT
from airflow_services import airflow_services, free_port
from support import contracts_dir, reset, rows, run_state

pytestmark = pytest.mark.airflow
SAMPLES = REPO_ROOT / "samples"

def deadline_alerts(local_stack, feed: str) -> list[dict]:
    return [a for a in read_alerts(local_stack.alerts_file)
            if "deadline" in a["payload"].get("text", "") and f"*{feed}*" in a["payload"]["text"]]


def queued_at(run: dict) -> float:
    return datetime.fromisoformat(run["queued_at"].replace("Z", "+00:00")).timestamp()


def test_a_run_past_its_deadline_alerts_slack_and_a_run_on_time_stays_quiet(
    local_stack, settings, contracts, tmp_path
):
    reset(settings, contracts)
    folder = contracts_dir(
        tmp_path,
        customers={"schedule": None, "deadline_minutes": 0.25},  # 15 s: a sweep waiting for files misses it
        transactions={"schedule": None, "deadline_minutes": 1},
    )
    env = {"FEEDLINE_CONTRACTS_DIR": folder, "FEEDLINE_CONTRACTS_URI": folder}
    with airflow_services(local_stack, tmp_path / "airflow", free_port(), env) as airflow:
        airflow.wait_for_dag("feedline_customers")
        airflow.wait_for_dag("feedline_transactions")
        # late: nothing in landing, so the run waits in wait_for_files (deferred) past its 15 s
        late = airflow.trigger("feedline_customers")
        # on time: asks for a file another batch took (none here): ends within seconds
        on_time = airflow.trigger("feedline_transactions", {"files": ["transactions_20261127.csv"]})

        sent = airflow.wait_until("the deadline alert", lambda: deadline_alerts(local_stack, "customers"), 240)
        text = sent[0]["payload"]["text"]
        assert late["dag_run_id"] in text and "deadline of 0.25 minutes" in text, text
        assert airflow.run("feedline_customers", late["dag_run_id"])["state"] == "running"
        late_by = datetime.fromisoformat(sent[0]["received_at"]).timestamp() - queued_at(late) - 15
        print(f"deadline alert sent {late_by:.1f} s after the deadline")

        done = airflow.wait_until(
            "the on-time run ends",
            lambda: (r := airflow.run("feedline_transactions", on_time["dag_run_id"]))["state"] in ("success", "failed") and r,
            240,
        )
        assert done["state"] == "success", airflow.task_states("feedline_transactions", on_time["dag_run_id"])
        # wait past its deadline (1 minute after queueing) and a few scheduler loops more
        time.sleep(max(0.0, queued_at(done) + 60 + 20 - time.time()))
        assert deadline_alerts(local_stack, "transactions") == []
        assert len(deadline_alerts(local_stack, "customers")) == 1  # one alert per missed run


def fingerprint(bq, table: str) -> str:
    lines = sorted(repr(sorted(dict(r).items())) for r in bq.query(f"SELECT * FROM `{table}`").result())
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def ingest_with_dags_test(config, gcs, settings, name: str, run_after: str) -> None:
    """A file ingested as before (DAG.test in the stack's own Airflow home), so it is archived."""
    gcs.bucket(settings.landing_bucket).blob(f"customers/{name}").upload_from_string((SAMPLES / name).read_bytes())
    result = subprocess.run(
        [sys.executable, "-m", "feedline.local.run_dag", "feedline_customers", "--run-after", run_after],
        env={**os.environ, **stack.service_env(config)}, text=True, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, timeout=600,
    )
    assert run_state(result.stdout) == "success", result.stdout[-3000:]


def test_a_two_day_backfill_beside_a_sweep_reingests_each_day_once_and_idle_ticks_end_in_seconds(
    local_stack, settings, contracts, gcs, bq, tmp_path
):
    reset(settings, contracts)
    p = sql.template_params(settings, contracts["customers"])
    days = {"20261125": "2026-11-25T07:00:00+00:00", "20261126": "2026-11-26T07:00:00+00:00"}
    for day, run_after in days.items():
        ingest_with_dags_test(local_stack, gcs, settings, f"customers_{day}.csv", run_after)
    staging_before, report_before = fingerprint(bq, p["staging_table"]), fingerprint(bq, p["reporting_views"][0])
    archived = sorted(b.name for b in gcs.list_blobs(settings.archive_bucket))

    # four ticks a day keep the test short; the rule is the same for 96 (tests/unit/orchestrate)
    folder = contracts_dir(tmp_path, customers={"schedule": "0 */6 * * *"}, transactions={"schedule": None})
    env = {"FEEDLINE_CONTRACTS_DIR": folder, "FEEDLINE_CONTRACTS_URI": folder}
    with airflow_services(local_stack, tmp_path / "airflow", free_port(), env) as airflow:
        airflow.wait_for_dag("feedline_customers")
        # Beside it, a sweep waiting for files, as a scheduled run does. (A run made by the
        # scheduler's own schedule would do the same; with it on, the scheduler writes to SQLite
        # so often that `backfill create` meets "database is locked", see below.)
        sweep = airflow.trigger("feedline_customers")["dag_run_id"]
        deadline = time.monotonic() + 180
        while True:
            # SQLite: a write that needs the lock the scheduler holds fails at once. Airflow then
            # removes the backfill it began (and its runs); retrying is what a user does too. On
            # a loaded machine five tries 3 s apart all met the lock once (CI, 2026-12-05): the
            # tries go on for up to 3 minutes, at uneven intervals.
            created = airflow.cli("backfill", "create", "--dag-id", "feedline_customers",
                                  "--from-date", "2026-11-25T00:00:00+00:00", "--to-date", "2026-11-26T18:00:00+00:00")
            if created.returncode == 0 or "database is locked" not in created.stdout or time.monotonic() > deadline:
                break
            time.sleep(random.uniform(0.5, 4))
        assert created.returncode == 0, created.stdout[-3000:]

        def backfill_runs():
            runs = [r for r in airflow.runs("feedline_customers") if r["run_type"] == "backfill"]
            return runs if len(runs) == 8 and all(r["state"] in ("success", "failed") for r in runs) else None

        runs = sorted(airflow.wait_until("8 backfill runs end", backfill_runs, 840, every=3),
                      key=lambda r: r["logical_date"])
        states = {r["logical_date"]: airflow.task_states("feedline_customers", r["dag_run_id"]) for r in runs}
        assert [r["state"] for r in runs] == ["success"] * 8, states
        first_ticks = [r for r in runs if datetime.fromisoformat(r["logical_date"].replace("Z", "+00:00")).hour == 0]
        idle = [r for r in runs if r not in first_ticks]
        assert len(first_ticks) == 2, [r["logical_date"] for r in runs]
        assert all(states[r["logical_date"]]["merge_staging"] == "success" for r in first_ticks), states
        assert all(set(states[r["logical_date"]].values()) == {"skipped"} for r in idle), states
        seconds = {r["logical_date"]: (datetime.fromisoformat(r["end_date"].replace("Z", "+00:00"))
                    - datetime.fromisoformat(r["start_date"].replace("Z", "+00:00"))).total_seconds() for r in runs}
        print(f"backfill run durations (s): {({k[5:16]: round(v, 1) for k, v in seconds.items()})}")
        assert max(seconds[r["logical_date"]] for r in idle) < 60, seconds
        waited = airflow.run("feedline_customers", sweep)
        assert waited["state"] in ("running", "success"), waited  # waiting for files, or skipped: never in the way

    assert fingerprint(bq, p["staging_table"]) == staging_before
    assert fingerprint(bq, p["reporting_views"][0]) == report_before
    audit = rows(bq, f"SELECT batch_id, source_file, status FROM `{p['audit_table']}`")
    assert len(audit) == 4 and len({a["batch_id"] for a in audit}) == 4  # each day: its first ingest + one backfill
    assert sorted((a["source_file"], a["status"]) for a in audit) == sorted(
        [(f"customers_{day}.csv", "loaded") for day in days] * 2
    )
    assert sorted(b.name for b in gcs.list_blobs(settings.archive_bucket)) == archived
