"""The event path through real servers: a Pub/Sub push delivery -> the function served by
functions-framework -> a real Airflow API server (simple auth manager, SQLite) -> a DAG run.

Pub/Sub has no emulator here, so the test POSTs what the push subscription would deliver (and
the same event as a structured and as a binary CloudEvent) straight to the function.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from feed_config import feeds_json
from support import push_body

from feedline.settings import REPO_ROOT as REPO
BIN = Path(sys.executable).parent
BUCKET = "feedline-landing"
NAME = "transactions/transactions_20261125.csv"
GENERATION = "1764072000123456"
USER = "feedline"

pytestmark = pytest.mark.airflow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow_env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(
        PATH=str(BIN) + os.pathsep + os.environ.get("PATH", ""),
        AIRFLOW_HOME=str(home),
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(REPO / "plugins"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS=f"{USER}:admin",
        AIRFLOW__API_AUTH__JWT_SECRET=secrets.token_hex(32),
        AIRFLOW__API__SECRET_KEY=secrets.token_hex(32),
        FEEDLINE_ENV="local",
        NO_GCE_CHECK="true",
        GCE_METADATA_HOST="127.0.0.1:1",
    )
    return env


def run(args: list[str], env: dict[str, str], log: Path, timeout: float) -> None:
    with log.open("w") as out:
        result = subprocess.run(args, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False)
    assert result.returncode == 0, f"{' '.join(args[:3])} failed:\n{log.read_text()[-3000:]}"


def start(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(args, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process: subprocess.Popen) -> None:
    """The whole process group (servers fork workers)."""
    if process.poll() is None:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        except ProcessLookupError:
            pass
    try:  # stragglers of the group (workers that outlived the parent)
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def wait_for(what: str, check, process: subprocess.Popen, log: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{what} exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if check():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.3)
    pytest.fail(f"{what} not ready after {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """A real Airflow API server with the Feedline DAGs, and the function in front of it."""
    home = tmp_path_factory.mktemp("airflow")
    env = airflow_env(home)
    airflow = str(BIN / "airflow")
    processes: list[subprocess.Popen] = []
    try:
        run([airflow, "db", "migrate"], env, home / "migrate.log", timeout=180)
        api_port = free_port()
        api_log = home / "api-server.log"
        processes.append(start([airflow, "api-server", "--port", str(api_port), "--host", "127.0.0.1",
                                "--workers", "1"], env, api_log))
        # Serialize the DAGs into the DB while the API server starts.
        errors: list[BaseException] = []
        reserialize = threading.Thread(target=_capture, args=(errors, run, [airflow, "dags", "reserialize"],
                                                              env, home / "reserialize.log", 180))
        reserialize.start()
        api = f"http://127.0.0.1:{api_port}"
        wait_for("airflow api-server", lambda: requests.get(f"{api}/api/v2/monitor/health", timeout=2).ok,
                 processes[0], api_log, timeout=90)
        reserialize.join(timeout=180)
        assert not errors, errors
        password = json.loads((home / "simple_auth_manager_passwords.json.generated").read_text())[USER]

        fn_port = free_port()
        fn_log = home / "function.log"
        fn_env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FEEDLINE_"))}
        fn_env.update(
            FEEDLINE_AIRFLOW_API_URL=api,
            FEEDLINE_AIRFLOW_AUTH="password",
            FEEDLINE_AIRFLOW_USER=USER,
            FEEDLINE_AIRFLOW_PASSWORD=password,
            FEEDLINE_FEEDS=feeds_json(),
        )
        processes.append(start([str(BIN / "functions-framework"), "--target", "on_landing_event",
                                "--source", str(REPO / "triggers" / "main.py"),
                                "--signature-type", "cloudevent", "--host", "127.0.0.1",
                                "--port", str(fn_port)], fn_env, fn_log))
        function = f"http://127.0.0.1:{fn_port}/"
        wait_for("functions-framework", lambda: socket.create_connection(("127.0.0.1", fn_port), 1).close() or True,
                 processes[1], fn_log, timeout=30)

        token = requests.post(f"{api}/auth/token", json={"username": USER, "password": password},
                              timeout=10).json()["access_token"]
        api_session = requests.Session()
        api_session.headers["Authorization"] = f"Bearer {token}"
        yield {"api": api, "function": function, "api_session": api_session, "function_log": fn_log}
    finally:
        for process in reversed(processes):
            stop(process)


def _capture(errors: list, target, *args) -> None:
    """Run target(*args) in a thread; the fixture asserts no error was recorded."""
    try:
        target(*args)
    except BaseException as exc:  # noqa: B036 - handed to the fixture's assert
        errors.append(exc)


def runs(servers, dag_id="~") -> list[dict]:
    response = servers["api_session"].get(f"{servers['api']}/api/v2/dags/{dag_id}/dagRuns", timeout=10)
    response.raise_for_status()
    return response.json()["dag_runs"]


def test_a_landed_file_starts_exactly_one_run_of_its_feeds_dag(servers):
    function = servers["function"]

    # 1. The push subscription's delivery (functions-framework converts it to a CloudEvent).
    first = requests.post(function, json=push_body(NAME, GENERATION), timeout=30)
    assert first.status_code == 200, first.text
    found = runs(servers, "feedline_transactions")
    assert len(found) == 1
    assert found[0]["conf"] == {"files": [NAME]}
    assert found[0]["run_type"] == "manual"
    assert found[0]["logical_date"] is None
    run_id = found[0]["dag_run_id"]
    assert run_id.startswith("gcs__transactions__transactions_20261125.csv__1764072000123456__")

    # 2. Redelivered, as a structured CloudEvent: Airflow answers 409, the function succeeds.
    structured = {
        "specversion": "1.0", "id": "redelivery-1", "source": "//pubsub.googleapis.com/projects/p/topics/t",
        "type": "google.cloud.pubsub.topic.v1.messagePublished", "datacontenttype": "application/json",
        "data": push_body(NAME, GENERATION),
    }
    again = requests.post(function, data=json.dumps(structured), timeout=30,
                          headers={"Content-Type": "application/cloudevents+json"})
    assert again.status_code == 200, again.text

    # 3. The same object as a binary storage CloudEvent (Eventarc shape): the same run id.
    binary = requests.post(
        function, timeout=30,
        json={"bucket": BUCKET, "name": NAME, "generation": GENERATION, "contentType": "text/csv"},
        headers={"ce-specversion": "1.0", "ce-id": "storage-1", "ce-type": "google.cloud.storage.object.v1.finalized",
                 "ce-source": f"//storage.googleapis.com/projects/_/buckets/{BUCKET}",
                 "ce-subject": f"objects/{NAME}"},
    )
    assert binary.status_code == 200, binary.text
    assert [r["dag_run_id"] for r in runs(servers)] == [run_id]

    # 4. The DAG's own claimed copy fires a finalize too: acknowledged, no run.
    copy = push_body(f"processing/transactions/{run_id[:20]}/transactions_20261125.csv", GENERATION)
    ignored = requests.post(function, json=copy, timeout=30)
    assert ignored.status_code == 200, ignored.text
    assert [r["dag_run_id"] for r in runs(servers)] == [run_id]
    log = servers["function_log"].read_text()
    assert '"action": "created"' in log and log.count('"action": "exists"') == 2
    assert '"action": "ignored"' in log

    # 5. A new generation of the same name (the file dropped again) is a new run.
    newer = requests.post(function, json=push_body(NAME, "1764072000999999"), timeout=30)
    assert newer.status_code == 200, newer.text
    found = runs(servers, "feedline_transactions")
    assert len(found) == 2 and all(r["conf"] == {"files": [NAME]} for r in found)


def test_a_malformed_event_is_acknowledged_with_an_error_line_and_starts_no_run(servers):
    before = len(runs(servers))
    broken = push_body(NAME, GENERATION)
    del broken["message"]["attributes"]["bucketId"]
    broken["message"]["data"] = base64.b64encode(b'{"name": "no bucket"}').decode()
    not_a_number = push_body(NAME, "17x")
    for body in (broken, not_a_number):
        response = requests.post(servers["function"], json=body, timeout=30)
        assert response.status_code == 200, response.text  # acknowledged: a redelivery cannot fix it
    assert len(runs(servers)) == before  # nothing new
    lines = [json.loads(line) for line in servers["function_log"].read_text().splitlines() if line.startswith("{")]
    rejected = [line for line in lines if line.get("action") == "rejected"]
    assert [line["severity"] for line in rejected] == ["ERROR", "ERROR"]
    assert "incomplete object" in rejected[0]["reason"]
    assert rejected[1]["reason"] == "malformed event: generation '17x' is not a number"
