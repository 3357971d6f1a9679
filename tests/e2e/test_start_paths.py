"""Every way a run starts, through the real scheduler, triggerer, DAG processor and API server
(tests/airflow_services.py) and the event function under functions-framework, against the
test stack's emulators: a sweep that defers and wakes on a drop, an event while a sweep waits
(it starts at once; each file is ingested once; a run that lost its file names the winner), a
REST trigger with files, bad params, and a Clear from the API that really re-executes.

Each test checks the tables and the audit. Latencies are printed (run with -s to see them)."""

from __future__ import annotations

import json
import time
from datetime import datetime, timezone

import pytest
import requests

from feedline.contract import naming, tables
from feedline.local import bench_e2e
from feedline.orchestrate import sql
from feedline.settings import REPO_ROOT
from airflow_services import Airflow, airflow_services, free_port, trigger_function
from support import push_body, reset, rows

pytestmark = pytest.mark.airflow
SAMPLES = REPO_ROOT / "samples"
CUSTOMERS, TRANSACTIONS = naming.dag_id("customers"), naming.dag_id("transactions")


@pytest.fixture(scope="module")
def airflow(local_stack, tmp_path_factory):
    """One Airflow for the module (start-up costs about a minute); schedules off, so every run
    here is one the test started: a run without files is a sweep, as a scheduled one is."""
    home = tmp_path_factory.mktemp("e2e-airflow")
    with airflow_services(local_stack, home, free_port()) as running:
        running.wait_for_dag(CUSTOMERS)
        running.wait_for_dag(TRANSACTIONS)
        yield running


@pytest.fixture(scope="module")
def function(airflow):
    with trigger_function(airflow, free_port(), airflow.home / "function.log") as url:
        yield url


@pytest.fixture
def clean(settings, contracts):
    reset(settings, contracts)


def timestamp(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def ended(airflow: Airflow, dag_id: str, run_id: str, timeout: float = 420) -> dict:
    return airflow.wait_until(
        f"{run_id} ends",
        lambda: (r := airflow.run(dag_id, run_id))["state"] in ("success", "failed") and r,
        timeout, every=2,
    )


def task(airflow: Airflow, dag_id: str, run_id: str, task_id: str) -> dict:
    return next(t for t in airflow.task_instances(dag_id, run_id) if t["task_id"] == task_id)


def task_log(airflow: Airflow, dag_id: str, run_id: str, task_id: str) -> str:
    folder = airflow.home / "logs" / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}"
    return "\n".join(p.read_text(errors="replace") for p in sorted(folder.glob("attempt=*.log")))


def deferred_sweep(airflow: Airflow, dag_id: str) -> str:
    """A run with nothing named: it waits for files in wait_for_files, deferred to the triggerer."""
    run_id = airflow.trigger(dag_id)["dag_run_id"]
    airflow.wait_until(f"{run_id} defers", lambda: task(airflow, dag_id, run_id, "wait_for_files")["state"] == "deferred",
                       180, every=2)
    return run_id


def drop(gcs, settings, feed: str, name: str) -> int:
    """Upload a sample under the feed's landing prefix; returns the object's generation."""
    blob = gcs.bucket(settings.landing_bucket).blob(naming.landing_prefix(feed) + name)
    blob.upload_from_string((SAMPLES / name).read_bytes())
    return blob.generation


def audit_by_file(bq, settings, contract) -> dict[str, list[dict]]:
    table = sql.template_params(settings, contract)["audit_table"]
    found: dict[str, list[dict]] = {}
    for row in rows(bq, f"SELECT * FROM `{table}` ORDER BY recorded_at"):
        found.setdefault(row["source_file"], []).append(row)
    return found


def raw_rows_by_file(bq, settings, contract) -> dict[tuple[str, str], int]:
    table = sql.template_params(settings, contract)["raw_table"]
    answer = rows(bq, f"SELECT _batch_id AS b, _source_file AS f, COUNT(*) AS n FROM `{table}` GROUP BY 1, 2")
    return {(r["b"], r["f"]): r["n"] for r in answer}


def staging_count(bq, settings, contract) -> int:
    return rows(bq, f"SELECT COUNT(*) AS n FROM `{sql.template_params(settings, contract)['staging_table']}`")[0]["n"]


def assert_ingested_once(bq, settings, contract, name: str, batch_id: str) -> dict:
    """One audit row, loaded by that batch, and its counts match raw: rows read = raw + deadletter."""
    audit = audit_by_file(bq, settings, contract).get(name, [])
    assert [(a["batch_id"], a["status"]) for a in audit] == [(batch_id, "loaded")], audit
    raw = {k: n for k, n in raw_rows_by_file(bq, settings, contract).items() if k[1] == name}
    assert raw == {(batch_id, name): audit[0]["rows_loaded"]}, raw
    assert audit[0]["rows_read"] == audit[0]["rows_loaded"] + audit[0]["rows_deadletter"] > 0
    return audit[0]


def test_a_sweep_defers_in_the_triggerer_and_wakes_on_a_drop(clean, airflow, settings, contracts, gcs, bq):
    contract = contracts["customers"]
    sweep = deferred_sweep(airflow, CUSTOMERS)
    dropped_at = time.time()
    drop(gcs, settings, "customers", "customers_20261126.csv")

    run = ended(airflow, CUSTOMERS, sweep)
    assert run["state"] == "success", airflow.task_states(CUSTOMERS, sweep)
    assert airflow.task_states(CUSTOMERS, sweep)["merge_staging"] == "success"
    batch = naming.batch_id_for_dag_run("customers", sweep, run["run_type"])
    audit = assert_ingested_once(bq, settings, contract, "customers_20261126.csv", batch)
    assert staging_count(bq, settings, contract) == audit["rows_loaded"]
    print(f"sweep: drop -> run success {timestamp(run['end_date']) - dropped_at:.1f} s")


def test_an_event_while_a_sweep_waits_starts_at_once_and_each_file_is_ingested_once(
    clean, airflow, function, settings, contracts, gcs, bq
):
    contract = contracts["customers"]
    sweep = deferred_sweep(airflow, CUSTOMERS)

    # An event for a new file: the function creates one run (a redelivery creates none).
    name = "customers_20261125.csv"
    generation = drop(gcs, settings, "customers", name)
    sent_at = time.time()
    event = push_body(naming.landing_prefix("customers") + name, str(generation), settings.landing_bucket)
    assert requests.post(function, json=event, timeout=30).status_code == 200
    assert requests.post(function, json=event, timeout=30).status_code == 200  # redelivered
    event_runs = [r for r in airflow.runs(CUSTOMERS) if r["conf"].get("files")]
    assert len(event_runs) == 1, event_runs
    event_run = event_runs[0]["dag_run_id"]
    first_task = airflow.wait_until(
        "the event run's first task starts", lambda: task(airflow, CUSTOMERS, event_run, "choose_source")["start_date"], 120
    )
    started_after = timestamp(first_task) - sent_at
    print(f"event while a sweep waits: event -> first task {started_after:.1f} s")
    assert started_after < 30  # the waiting sweep holds no slot the event run needs (issue: about 10 s)

    done = ended(airflow, CUSTOMERS, event_run)
    assert done["state"] == "success", airflow.task_states(CUSTOMERS, event_run)
    print(f"event: event -> run success {timestamp(done['end_date']) - sent_at:.1f} s")
    event_batch = naming.batch_id_for_dag_run("customers", event_run, done["run_type"])
    sweep_batch = naming.batch_id_for_dag_run("customers", sweep, "manual")

    # The race for the file has one winner, whichever it is; the loser says so.
    winner: dict[str, str] = {}
    if airflow.task_states(CUSTOMERS, event_run)["claim_files"] == "skipped":  # the sweep took it first
        assert ended(airflow, CUSTOMERS, sweep)["state"] == "success"
        winner[name] = sweep_batch
        assert f"{name} was taken by batch {sweep_batch}" in task_log(airflow, CUSTOMERS, event_run, "claim_files")
    else:
        winner[name] = event_batch
        if airflow.run(CUSTOMERS, sweep)["state"] == "success":  # it woke on the file and found it gone
            assert airflow.task_states(CUSTOMERS, sweep)["claim_files"] == "skipped"
            assert "no customers files to claim" in task_log(airflow, CUSTOMERS, sweep, "claim_files")
        else:
            # The sweep still waits: the next drop is its, and an event for that file that comes
            # after the sweep took it starts a run that names the sweep's batch.
            late_name = "customers_20261126.csv"
            late_generation = drop(gcs, settings, "customers", late_name)
            assert ended(airflow, CUSTOMERS, sweep)["state"] == "success"
            assert airflow.task_states(CUSTOMERS, sweep)["claim_files"] == "success"
            winner[late_name] = sweep_batch
            late_object = naming.landing_prefix("customers") + late_name
            late = push_body(late_object, str(late_generation), settings.landing_bucket)
            assert requests.post(function, json=late, timeout=30).status_code == 200
            late_run = next(r["dag_run_id"] for r in airflow.runs(CUSTOMERS) if r["conf"].get("files") == [late_object])
            lost = ended(airflow, CUSTOMERS, late_run)
            states = airflow.task_states(CUSTOMERS, late_run)
            assert lost["state"] == "success" and states["claim_files"] == "skipped", states
            assert f"{late_name} was taken by batch {sweep_batch}" in task_log(airflow, CUSTOMERS, late_run, "claim_files")

    loaded = [assert_ingested_once(bq, settings, contract, f, b)["rows_loaded"] for f, b in winner.items()]
    assert set(audit_by_file(bq, settings, contract)) == set(winner)
    assert all(loaded)
    keys = rows(bq, f"SELECT COUNT(DISTINCT customer_id) AS n FROM `{sql.template_params(settings, contract)['raw_table']}`")
    assert staging_count(bq, settings, contract) == keys[0]["n"]


def test_a_rest_trigger_with_files_ingests_them_and_a_clear_really_re_executes(
    clean, airflow, settings, contracts, gcs, bq
):
    contract = contracts["transactions"]
    p = sql.template_params(settings, contract)
    name = "transactions_20261126.csv"
    drop(gcs, settings, "transactions", name)
    sent_at = time.time()
    run_id = airflow.trigger(TRANSACTIONS, {"files": [name]})["dag_run_id"]
    run = ended(airflow, TRANSACTIONS, run_id)
    assert run["state"] == "success", airflow.task_states(TRANSACTIONS, run_id)
    print(f"REST trigger: trigger -> run success {timestamp(run['end_date']) - sent_at:.1f} s")
    # make bench-e2e's split of this run, from this scheduler's task instances and task logs
    tasks = [bench_e2e.TaskTimes.from_api(ti) for ti in airflow.task_instances(TRANSACTIONS, run_id)]
    sent, done = datetime.fromtimestamp(sent_at, timezone.utc), bench_e2e.reporting_done(tasks, None)
    parts = bench_e2e.breakdown(sent, done, tasks)
    assert sum(parts.values()) == pytest.approx((done - sent).total_seconds()), parts
    assert parts["beam"] > 0 and parts["bigquery"] > 0 and parts["scheduling"] > 0, parts
    inside = bench_e2e.in_task(bench_e2e.on_the_way(tasks, done),
                               bench_e2e.task_logs(airflow.home, TRANSACTIONS, run_id, tasks))
    marked = [name for name, _, _ in bench_e2e.PHASES] + [bench_e2e.BEAM_PROBE[0]]
    assert all(inside.phase("beam", name) > 0 for name in marked), f"a task log line moved: {inside.phases}"
    print("\n".join(bench_e2e.report(0, (done - sent).total_seconds(), parts, inside, 0.0, 0.0)))
    batch = naming.batch_id_for_dag_run("transactions", run_id, run["run_type"])
    assert_ingested_once(bq, settings, contract, name, batch)
    raw = rows(bq, f"SELECT * FROM `{p['raw_table']}` ORDER BY _line_number")
    staging = rows(bq, f"SELECT * FROM `{p['staging_table']}` ORDER BY transaction_id")
    deadletter = rows(bq, f"SELECT COUNT(*) AS n FROM `{p['deadletter_table']}`")[0]["n"]
    assert raw and staging

    # What a stale, re-attached job would leave wrong: raw emptied behind the batch's back.
    bq.query(f"DELETE FROM `{p['raw_table']}` WHERE TRUE").result()
    airflow.request("POST", f"/api/v2/dags/{TRANSACTIONS}/clearTaskInstances",
                    {"dag_run_id": run_id, "dry_run": False, "only_failed": False, "reset_dag_runs": True})
    airflow.wait_until("the cleared run is queued again", lambda: airflow.run(TRANSACTIONS, run_id)["state"] != "success", 60)
    again = ended(airflow, TRANSACTIONS, run_id)
    assert again["state"] == "success", airflow.task_states(TRANSACTIONS, run_id)
    assert "skipping resubmission" not in task_log(airflow, TRANSACTIONS, run_id, "publish_raw")
    assert rows(bq, f"SELECT * FROM `{p['raw_table']}` ORDER BY _line_number") == raw  # publish_raw ran again
    assert rows(bq, f"SELECT * FROM `{p['staging_table']}` ORDER BY transaction_id") == staging
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['deadletter_table']}`")[0]["n"] == deadletter
    attempts = [(a["batch_id"], a["attempt"]) for a in audit_by_file(bq, settings, contract)[name]]
    assert attempts == [(batch, 0), (batch, 1)]  # the re-run is audited as the batch's attempt 1


def test_bad_params_are_refused_and_an_unknown_key_fails_before_any_data_moves(
    clean, airflow, settings, contracts, gcs, bq
):
    name = "transactions_20261125.csv"
    drop(gcs, settings, "transactions", name)
    # A value of the wrong type: the API refuses the run (Airflow validates Params at trigger).
    with pytest.raises(Exception) as refused:
        airflow.trigger(TRANSACTIONS, {"files": 42})
    assert getattr(refused.value, "code", None) == 400, refused.value
    # A typo of a param: the run is created and fails at once, naming the key and the allowed ones.
    run_id = airflow.trigger(TRANSACTIONS, {"file": [name]})["dag_run_id"]
    run = ended(airflow, TRANSACTIONS, run_id, timeout=180)
    states = airflow.task_states(TRANSACTIONS, run_id)
    assert run["state"] == "failed" and states["choose_source"] == "failed", states
    log = task_log(airflow, TRANSACTIONS, run_id, "choose_source")
    assert "unknown conf key(s) file; allowed: date, dry_run, files, force_reingest, from_archive" in log, log[-2000:]
    # nothing moved, nothing written
    assert [b.name for b in gcs.list_blobs(settings.landing_bucket)] == [naming.landing_prefix("transactions") + name]
    assert audit_by_file(bq, settings, contracts["transactions"]) == {}


def lineage_of_run(lineage_dir, run_id: str) -> list[dict]:
    """The OpenLineage COMPLETE events of one DAG run, its tasks' and their SQL statements'
    (the stack's file transport: one JSON file per event)."""
    events = [json.loads(p.read_text()) for p in sorted(lineage_dir.glob("*.json"))]
    roots = {
        e["run"]["facets"]["parent"]["root"]["run"]["runId"]
        for e in events
        if e["run"]["facets"].get("airflow", {}).get("dagRun", {}).get("run_id") == run_id
        and "parent" in e["run"]["facets"]
    }
    return [
        e for e in events
        if e.get("eventType") == "COMPLETE"
        and e["run"]["facets"].get("parent", {}).get("root", {}).get("run", {}).get("runId") in roots
    ]


def lineage_edges(events: list[dict]) -> dict[str, set[str]]:
    """dataset -> datasets some job read it into ("namespace/name")."""
    edges: dict[str, set[str]] = {}
    for e in events:
        for i in e.get("inputs", []):
            for o in e.get("outputs", []):
                edges.setdefault(f"{i['namespace']}/{i['name']}", set()).add(f"{o['namespace']}/{o['name']}")
    return edges


def downstream(edges: dict[str, set[str]], start: str) -> set[str]:
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_a_run_reports_lineage_from_the_landed_object_through_raw_and_staging_to_the_views(
    clean, airflow, local_stack, settings, contracts, gcs, bq
):
    name = "customers_20261126.csv"
    drop(gcs, settings, "customers", name)
    run_id = airflow.trigger(CUSTOMERS, {"files": [name]})["dag_run_id"]
    run = ended(airflow, CUSTOMERS, run_id)
    assert run["state"] == "success", airflow.task_states(CUSTOMERS, run_id)
    batch = naming.batch_id_for_dag_run("customers", run_id, run["run_type"])
    p = sql.template_params(settings, contracts["customers"])

    # The listener writes a task's events as the task ends; the run's end can come first.
    events = airflow.wait_until(
        "the run's lineage is written",
        lambda: (found := lineage_of_run(local_stack.lineage_dir, run_id))
        and any(e["job"]["name"].endswith(".settle_files") for e in found) and found,
        60,
    )
    reached = downstream(lineage_edges(events), f"gs://{settings.landing_bucket}/customers/{name}")
    table = lambda ref: f"bigquery/{ref}"  # noqa: E731 - how OpenLineage names a BigQuery table
    assert {
        f"gs://{settings.landing_bucket}/processing/customers/{batch}",  # claim_files
        f"gs://{settings.work_bucket}/batches/customers/{batch}/valid",  # the Beam job
        table(p["raw_table"]), table(p["deadletter_table"]),  # load tables -> raw, deadletter
        table(p["staging_table"]),  # merge_staging
        table(f"{settings.project}.{tables.dataset_names()['reporting']}.customers_by_country"),  # refresh
        f"gs://{settings.archive_bucket}/customers/date=20261126/{batch}",  # settle_files
    } <= reached, sorted(reached)
