"""The full local stack (emulators + the real Airflow components) on private free ports: healthy,
loopback only, a feed run triggered over the REST API and run by the real scheduler, recovery
of a killed emulator by the next ``up``, and ``down`` leaving no process behind."""

from __future__ import annotations

import io
import os
import signal
import socket
import time
from datetime import datetime

import psutil
import pytest

from feedline.local import stack
from feedline.local.airflow_api import AirflowApi, wait_for_dag, wait_for_run
from feedline.orchestrate import sql
from feedline.settings import REPO_ROOT
from feedline.validate.csvio import iter_records
from feedline.validate.rules import RowError, validate_records
from support import rows

pytestmark = pytest.mark.airflow

SAMPLE = REPO_ROOT / "samples" / "transactions_20261125.csv"
LOOPBACK = {"127.0.0.1", "::ffff:127.0.0.1"}


def free_ports(n: int) -> list[int]:
    sockets = [socket.socket() for _ in range(n)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


@pytest.fixture(scope="module")
def full(tmp_path_factory):
    """A private full stack, up and provisioned; yields (config, seconds from up to healthy)."""
    from feedline.contract.model import load_contracts
    from feedline.local.provision import provision
    from feedline.settings import from_env

    gcs, bq, grpc, slack, api, logs = free_ports(6)
    config = stack.StackConfig(root=tmp_path_factory.mktemp("full-stack"), gcs_port=gcs, bq_port=bq,
                               bq_grpc_port=grpc, slack_port=slack, airflow_port=api, airflow_log_port=logs)
    saved = dict(os.environ)
    try:
        started = time.monotonic()
        stack.up(config, airflow=True)
        healthy_after = time.monotonic() - started
        print(f"\nfull stack: up to healthy in {healthy_after:.0f}s")
        stack.apply_env(config)
        provision(from_env(), load_contracts())
        yield config, healthy_after
    finally:
        stack.down(config)
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def api(full):
    config, _ = full
    return AirflowApi(config.airflow_url, stack.AIRFLOW_USER, stack.airflow_password(config))


def service_processes(config) -> list[psutil.Process]:
    """Every process of the stack: each service's leader and all its descendants."""
    found = []
    for name in (*stack.EMULATORS, *stack.AIRFLOW_SERVICES):
        pid = stack._read_pid(config, name)
        assert pid, f"{name} is not running"
        leader = psutil.Process(pid)
        found += [leader, *leader.children(recursive=True)]
    return found


def test_every_component_is_healthy_and_listens_on_loopback_only(full, api):
    config, healthy_after = full
    health = api.health()
    assert {k: health[k]["status"] for k in ("metadatabase", "scheduler", "triggerer", "dag_processor")} == {
        "metadatabase": "healthy", "scheduler": "healthy", "triggerer": "healthy", "dag_processor": "healthy"}
    listening = {}
    for process in service_processes(config):
        for conn in process.net_connections(kind="inet"):
            if conn.status == psutil.CONN_LISTEN:
                listening[(conn.laddr.ip, conn.laddr.port)] = process.pid
    ports = {port for _, port in listening}
    assert {config.gcs_port, config.bq_port, config.bq_grpc_port, config.slack_port,
            config.airflow_port, config.airflow_log_port} <= ports
    assert {ip for ip, _ in listening} <= LOOPBACK, listening
    assert healthy_after < 300
    status = stack.status(config)
    assert status["airflow-scheduler"].startswith("healthy") and status["airflow-triggerer"].startswith("healthy")


def expected_valid(contract, data: bytes) -> tuple[int, int]:
    valid = bad = 0
    for _, outcome in validate_records(contract, iter_records(io.BytesIO(data))):
        bad, valid = (bad + 1, valid) if isinstance(outcome, RowError) else (bad, valid + 1)
    return valid, bad


def test_a_run_triggered_over_rest_is_run_by_the_scheduler(full, api, contracts):
    from feedline.local.provision import bigquery_client, storage_client
    from feedline.settings import from_env

    config, _ = full
    settings = from_env()
    gcs, bq = storage_client(settings.project), bigquery_client(settings.project)
    gcs.bucket(settings.landing_bucket).blob(f"transactions/{SAMPLE.name}").upload_from_filename(str(SAMPLE))
    wait_for_dag(api, "feedline_transactions")
    api.unpause("feedline_transactions")

    triggered = time.monotonic()
    conf = {"files": [f"transactions/{SAMPLE.name}"]}
    assert api.trigger("feedline_transactions", "it__transactions__1", conf) == "created"
    assert api.trigger("feedline_transactions", "it__transactions__1", conf) == "exists"
    assert wait_for_run(api, "feedline_transactions", "it__transactions__1", timeout=600) == "success"
    run = api.run("feedline_transactions", "it__transactions__1")
    assert run["run_type"] == "manual" and run["conf"] == conf
    tis = api.task_instances("feedline_transactions", "it__transactions__1")
    states = {ti["task_id"]: ti["state"] for ti in tis}
    assert states["claim_files"] == states["merge_staging"] == states["settle_files"] == "success"
    first_task = min(datetime.fromisoformat(ti["start_date"]) for ti in tis if ti["start_date"])
    queued = datetime.fromisoformat(run["queued_at"])
    print(f"\ntrigger to first task running {(first_task - queued).total_seconds():.0f}s, "
          f"to success {time.monotonic() - triggered:.0f}s")

    p = sql.template_params(settings, contracts["transactions"])
    valid, bad = expected_valid(contracts["transactions"], SAMPLE.read_bytes())
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['staging_table']}`") == [{"n": valid}]
    audit = rows(bq, f"SELECT source_file, attempt, status, rows_loaded, rows_deadletter FROM `{p['audit_table']}`")
    assert audit == [{"source_file": SAMPLE.name, "attempt": 0, "status": "loaded",
                      "rows_loaded": valid, "rows_deadletter": bad}]


def test_up_recovers_a_killed_emulator(full):
    from feedline.local.provision import storage_client
    from feedline.settings import from_env

    config, _ = full
    pid = stack._read_pid(config, "gcs")
    os.killpg(pid, signal.SIGKILL)
    psutil.Process(pid).wait(timeout=10)
    assert stack.status(config)["gcs"] == "down"

    states = stack.up(config, airflow=True)
    assert states["gcs"] == "started"
    assert {states[name] for name in states if name != "gcs"} == {"already running"}
    assert stack._read_pid(config, "gcs") not in (None, pid)
    assert storage_client(from_env().project).bucket(from_env().landing_bucket).exists()


def test_down_leaves_no_process(full):
    config, _ = full
    processes = service_processes(config)
    states = stack.down(config)
    assert set(states.values()) == {"stopped"}
    gone, alive = psutil.wait_procs(processes, timeout=10)
    assert alive == []
    assert list((config.root / "run").glob("*.pid")) == []
