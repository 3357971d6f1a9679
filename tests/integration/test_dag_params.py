"""Feed DAG runs through Airflow (DAG.test, via ``python -m feedline.local.run_dag``) with run
params: an unknown conf key, a dry run, two batches of one feed at once, and a re-run (Clear) of
a finished batch whose BigQuery statements must really run again."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest

from feedline.contract import naming, tables
from feedline.local import stack
from feedline.local.slack_receiver import read_alerts
from feedline.orchestrate import sql
from feedline.settings import REPO_ROOT
from support import reset, rows, run_state

pytestmark = pytest.mark.airflow

SAMPLES = REPO_ROOT / "samples"


def command(feed: str, run_after: str, conf: dict | None) -> list[str]:
    args = [sys.executable, "-m", "feedline.local.run_dag", naming.dag_id(feed), "--run-after", run_after]
    return args + (["--conf", json.dumps(conf)] if conf is not None else [])


def start(config, feed: str, run_after: str, conf: dict | None = None) -> subprocess.Popen:
    env = {**os.environ, **stack.service_env(config)}
    return subprocess.Popen(command(feed, run_after, conf), env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def finish(config, process: subprocess.Popen, name: str) -> str:
    """The run's whole output (kept beside the stack's logs)."""
    out, _ = process.communicate(timeout=600)
    with (config.root / "logs" / f"run-params-{name}.log").open("a") as handle:
        handle.write(out)
    return out


def run_dag(config, feed: str, run_after: str, conf: dict | None = None) -> str:
    return finish(config, start(config, feed, run_after, conf), f"{feed}-{run_after[:10]}")


def drop(gcs, settings, feed: str, name: str, data: bytes | None = None) -> None:
    data = (SAMPLES / name).read_bytes() if data is None else data
    gcs.bucket(settings.landing_bucket).blob(f"{feed}/{name}").upload_from_string(data)


def names(gcs, bucket: str, prefix: str = "") -> list[str]:
    return sorted(b.name for b in gcs.list_blobs(bucket, prefix=prefix))


def load_tables_left(bq, settings) -> list[str]:
    return [t.table_id for t in bq.list_tables(f"{settings.project}.{tables.dataset_names()['load']}")]


def count(bq, table: str) -> int:
    return rows(bq, f"SELECT COUNT(*) AS n FROM `{table}`")[0]["n"]


def fingerprint(bq, table: str) -> list[str]:
    return sorted(repr(sorted(dict(r).items())) for r in bq.query(f"SELECT * FROM `{table}`").result())


@pytest.fixture
def clean(settings, contracts):
    reset(settings, contracts)


def test_an_unknown_conf_key_fails_the_run_before_anything_is_claimed(clean, local_stack, settings, gcs):
    drop(gcs, settings, "customers", "customers_20261126.csv")
    alerts_before = len(read_alerts(local_stack.alerts_file))

    log = run_dag(local_stack, "customers", "2026-10-01T00:00:00+00:00", {"file": ["customers_20261126.csv"]})
    assert run_state(log) == "failed", log[-3000:]

    message = "unknown conf key(s) file; allowed: date, dry_run, files, force_reingest, from_archive"
    assert message in log
    assert names(gcs, settings.landing_bucket) == ["customers/customers_20261126.csv"]  # untouched
    assert names(gcs, settings.work_bucket) == []  # no manifest, no outputs
    texts = [a["payload"]["text"] for a in read_alerts(local_stack.alerts_file)[alerts_before:]]
    assert any("choose_source" in t and "unknown conf key(s) file" in t for t in texts), texts


def test_a_dry_run_validates_and_reports_but_publishes_and_moves_nothing(clean, local_stack, settings, contracts,
                                                                        gcs, bq):
    p = sql.template_params(settings, contracts["customers"])
    drop(gcs, settings, "customers", "customers_20261126.csv")
    drop(gcs, settings, "customers", "customers_20261126_crm-v2.csv")
    landing_before = names(gcs, settings.landing_bucket)
    alerts_before = len(read_alerts(local_stack.alerts_file))

    log = run_dag(local_stack, "customers", "2026-10-02T00:00:00+00:00", {"dry_run": True})
    assert run_state(log) == "success", log[-3000:]

    for table in (p["raw_table"], p["deadletter_table"], p["staging_table"], *p["reporting_views"]):
        assert count(bq, table) == 0, table
    assert names(gcs, settings.landing_bucket) == landing_before  # still there, nothing in processing
    assert names(gcs, settings.archive_bucket) == [] and names(gcs, settings.quarantine_bucket) == []
    audit = rows(bq, f"SELECT source_file, status, rows_read, rows_loaded, rows_deadletter, dry_run "
                     f"FROM `{p['audit_table']}` ORDER BY source_file")
    assert [(a["source_file"], a["status"], a["dry_run"]) for a in audit] == [
        ("customers_20261126.csv", "loaded", True), ("customers_20261126_crm-v2.csv", "quarantined", True)]
    good = audit[0]
    assert good["rows_read"] == 150 and good["rows_loaded"] + good["rows_deadletter"] == good["rows_read"]
    assert good["rows_loaded"] > 0
    texts = [a["payload"]["text"] for a in read_alerts(local_stack.alerts_file)[alerts_before:]]
    summaries = [t for t in texts if "dry run" in t]
    assert len(summaries) == 1 and "customers_20261126_crm-v2.csv" in summaries[0], texts
    assert f"{good['rows_loaded']} valid" in summaries[0] and "Nothing was published" in summaries[0]
    assert load_tables_left(bq, settings) == []  # dropped once the batch was done

    # a real run afterwards finds the files where they were, and publishes them
    log = run_dag(local_stack, "customers", "2026-10-03T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]
    assert count(bq, p["raw_table"]) == good["rows_loaded"]
    assert names(gcs, settings.landing_bucket, "customers/") == []
    real = rows(bq, f"SELECT dry_run FROM `{p['audit_table']}` WHERE NOT dry_run")
    assert len(real) == 2


def test_two_batches_of_one_feed_run_at_once_each_with_its_own_tables(clean, local_stack, settings, contracts,
                                                                     gcs, bq):
    p = sql.template_params(settings, contracts["customers"])
    files = ["customers_20261125.csv", "customers_20261126.csv"]
    for name in files:
        drop(gcs, settings, "customers", name)

    runs = [start(local_stack, "customers", f"2026-10-1{i}T00:00:00+00:00", {"files": [name]})
            for i, name in enumerate(files)]
    logs = [finish(local_stack, process, f"concurrent-{i}") for i, process in enumerate(runs)]
    for log in logs:
        assert run_state(log) == "success", log[-3000:]

    audit = rows(bq, f"SELECT batch_id, source_file, rows_read, rows_loaded, rows_deadletter "
                     f"FROM `{p['audit_table']}` ORDER BY source_file")
    assert [a["source_file"] for a in audit] == files
    assert len({a["batch_id"] for a in audit}) == 2  # one batch per run
    for a in audit:
        assert a["rows_read"] == a["rows_loaded"] + a["rows_deadletter"] > 0
        raw = rows(bq, f"SELECT _batch_id, COUNT(*) AS n FROM `{p['raw_table']}` WHERE _source_file = @f "
                       "GROUP BY _batch_id", f=a["source_file"])
        assert raw == [{"_batch_id": a["batch_id"], "n": a["rows_loaded"]}]
    assert names(gcs, settings.landing_bucket, "customers/") == []
    assert len(names(gcs, settings.archive_bucket)) == 2
    assert load_tables_left(bq, settings) == []


def job_ids(log: str, task_id: str) -> set[str]:
    return set(re.findall(rf"\bfeedline_customers_{task_id}_clear[0-9]+_try[0-9]+_[0-9a-f]{{32}}\b", log))


def test_a_rerun_after_clear_executes_its_bigquery_statements_again(clean, local_stack, settings, contracts, gcs, bq):
    p = sql.template_params(settings, contracts["customers"])
    drop(gcs, settings, "customers", "customers_20261126.csv")
    run_after = "2026-10-20T00:00:00+00:00"

    first = run_dag(local_stack, "customers", run_after)
    assert run_state(first) == "success", first[-3000:]
    raw, staging = fingerprint(bq, p["raw_table"]), fingerprint(bq, p["staging_table"])
    assert raw and staging
    # what a stale re-attached job would leave wrong: raw emptied behind the batch's back
    bq.query(f"DELETE FROM `{p['raw_table']}` WHERE TRUE").result()

    second = run_dag(local_stack, "customers", run_after)  # the same run id: DAG.test clears and re-runs it
    assert run_state(second) == "success", second[-3000:]
    assert "skipping resubmission" not in second
    assert fingerprint(bq, p["raw_table"]) == raw  # publish_raw ran again
    assert fingerprint(bq, p["staging_table"]) == staging  # and ends as the clean run did
    for task_id in ("publish_raw", "record_audit", "merge_staging"):
        before, after = job_ids(first, task_id), job_ids(second, task_id)
        assert before and after and not before & after, (task_id, before, after)
    attempts = rows(bq, f"SELECT attempt, COUNT(*) AS n FROM `{p['audit_table']}` GROUP BY attempt ORDER BY attempt")
    assert attempts == [{"attempt": 0, "n": 1}, {"attempt": 1, "n": 1}]
