"""A real Airflow (scheduler, triggerer, dag-processor, api-server) on top of the test stack's
emulators, for what ``airflow dags test`` cannot show: deadline alerts (the scheduler marks a
missed deadline, the triggerer sends it), backfills, REST triggers.

Its own AIRFLOW_HOME and SQLite database (so the session's ``dags test`` runs never meet its
scheduler), its own API and log-server ports, and per test the contracts and scheduler settings
the test needs: what ``feedline local up`` (one Airflow per stack, tested in
tests/integration/test_local_stack.py) cannot give each test. Logged in as the stack's user.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager
from pathlib import Path

from feedline.local import stack
from feedline.settings import REPO_ROOT, from_env

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


COMPONENTS = ("scheduler", "triggerer", "dag-processor", "api-server")


def services_env(config: stack.StackConfig, home: Path, port: int, extra: dict[str, str]) -> dict[str, str]:
    base_url = f"http://127.0.0.1:{port}"
    return {
        **os.environ,
        **stack.service_env(config),
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__API__BASE_URL": base_url,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base_url}/execution/",
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # Log servers on free ports too: another Airflow on this machine may hold the defaults.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        **extra,
    }


class Airflow:
    """The running components and a small REST client for them."""

    def __init__(self, env: dict[str, str], home: Path, port: int, password: str):
        self.env, self.home, self.base_url = env, home, f"http://127.0.0.1:{port}"
        self.user, self.password = stack.AIRFLOW_USER, password  # the stack's user, as a script logs in
        self.processes: dict[str, subprocess.Popen] = {}
        self.restarts, self.log_offsets = 0, {}
        self._token: str | None = None

    def cli(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(Path(sys.executable).parent / "airflow"), *args], env=self.env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=timeout,
        )

    def start(self) -> None:
        migrated = self.cli("db", "migrate")
        if migrated.returncode:
            raise RuntimeError(f"airflow db migrate failed:\n{migrated.stdout[-3000:]}")
        # The Beam pool, as `feedline local up` creates it: without it validate_rows is never scheduled.
        settings = from_env(self.env)
        pooled = self.cli("pools", "set", settings.beam_pool, str(settings.beam_pool_slots), "Feedline Beam jobs")
        if pooled.returncode:
            raise RuntimeError(f"airflow pools set failed:\n{pooled.stdout[-3000:]}")
        for name in COMPONENTS:
            self._launch(name)

    def _launch(self, name: str) -> None:
        path = self.home / f"{name}.log"
        self.log_offsets[name] = path.stat().st_size if path.exists() else 0  # this process's part
        log = open(path, "ab")
        self.processes[name] = subprocess.Popen(
            [str(Path(sys.executable).parent / "airflow"), name], env=self.env, stdout=log,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )

    def _restart_if_known_crash(self, name: str) -> bool:
        """Start again a scheduler that died of Airflow's SQLite backfill race, as Composer (and
        any supervisor) restarts a crashed scheduler; any other exit fails the test. The race:
        `backfill create` meets "database is locked", deletes the runs it began, and a scheduler
        already working on them dies of ObjectDeletedError (a Postgres metadata DB takes no such
        lock). At most twice per Airflow."""
        with open(self.home / f"{name}.log", "rb") as handle:
            handle.seek(self.log_offsets[name])
            log = handle.read().decode(errors="replace")
        if name != "scheduler" or "ObjectDeletedError" not in log or self.restarts >= 2:
            return False
        self.restarts += 1
        print(f"airflow scheduler died of the SQLite backfill race (ObjectDeletedError); restart {self.restarts}")
        self._launch(name)
        return True

    def stop(self) -> None:
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in self.processes.values():
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def request(self, method: str, path: str, body: dict | None = None) -> dict:
        headers = {"Content-Type": "application/json"}
        if not path.startswith("/auth/"):
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def token(self) -> str:
        if self._token is None:
            login = {"username": self.user, "password": self.password}
            self._token = self.request("POST", "/auth/token", login)["access_token"]
        return self._token

    def wait_until(self, what: str, check, timeout: float, every: float = 1.0):
        deadline = time.monotonic() + timeout
        while True:
            for name, process in list(self.processes.items()):
                if process.poll() is not None and not self._restart_if_known_crash(name):
                    raise RuntimeError(f"airflow {name} exited; see {self.home / (name + '.log')}")
            try:
                result = check()
            except (urllib.error.URLError, ConnectionError, OSError):
                result = None
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"{what}: not within {timeout:.0f}s (logs in {self.home})")
            time.sleep(every)

    def wait_for_dag(self, dag_id: str, timeout: float = 240) -> None:
        self.wait_until(f"{dag_id} parsed", lambda: self.request("GET", f"/api/v2/dags/{dag_id}"), timeout)

    def trigger(self, dag_id: str, conf: dict | None = None) -> dict:
        return self.request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})

    def run(self, dag_id: str, run_id: str) -> dict:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}")

    def runs(self, dag_id: str) -> list[dict]:
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=1000")["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict]:
        quoted = urllib.parse.quote(run_id, safe="")
        return self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=100")["task_instances"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        return {ti["task_id"]: ti["state"] for ti in self.task_instances(dag_id, run_id)}


@contextmanager
def airflow_services(config: stack.StackConfig, home: Path, port: int, extra_env: dict[str, str] | None = None):
    """Start the four components; yields an :class:`Airflow` once its API answers."""
    home.mkdir(parents=True, exist_ok=True)
    airflow = Airflow(services_env(config, home, port, extra_env or {}), home, port, stack.ensure_password(config))
    try:
        airflow.start()
        airflow.wait_until("api-server up", lambda: airflow.request("GET", "/api/v2/monitor/health"), 180)
        yield airflow
    finally:
        airflow.stop()


@contextmanager
def trigger_function(airflow: Airflow, port: int, log: Path):
    """The Cloud Run function (triggers/main.py) under functions-framework, calling this Airflow
    with the stack's user, as it calls Composer's REST API in the cloud. Yields its URL."""
    if str(REPO_ROOT / "triggers") not in sys.path:
        sys.path.insert(0, str(REPO_ROOT / "triggers"))  # a bare folder, as deployed
    from feed_config import feeds_json

    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FEEDLINE_"))}
    env.update(
        FEEDLINE_AIRFLOW_API_URL=airflow.base_url, FEEDLINE_AIRFLOW_AUTH="password",
        FEEDLINE_AIRFLOW_USER=airflow.user, FEEDLINE_AIRFLOW_PASSWORD=airflow.password,
        FEEDLINE_FEEDS=feeds_json(directory=airflow.env.get("FEEDLINE_CONTRACTS_DIR")),
    )
    with log.open("ab") as out:
        process = subprocess.Popen(
            [str(Path(sys.executable).parent / "functions-framework"), "--target", "on_landing_event",
             "--source", str(REPO_ROOT / "triggers" / "main.py"), "--signature-type", "cloudevent",
             "--host", "127.0.0.1", "--port", str(port)],
            env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), 1).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"functions-framework did not start; see {log}") from None
                time.sleep(0.3)
        yield f"http://127.0.0.1:{port}/"
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=15)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
