"""A real Airflow (scheduler, triggerer, dag-processor, api-server) on top of the test stack's
emulators, for what ``airflow dags test`` cannot show: deadline alerts (the scheduler marks a
missed deadline, the triggerer sends it), backfills, REST triggers.

Its own AIRFLOW_HOME and SQLite database (so the session's ``dags test`` runs never meet its
scheduler) and its own API port. Kept small and self-contained so it can be swapped for the local
stack's own scheduler once that exists (feedline.local.stack).
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
from feedline.settings import from_env

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
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        # Log servers on free ports too: another Airflow on this machine may hold the defaults.
        "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
        "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
        **extra,
    }


class Airflow:
    """The running components and a small REST client for them."""

    def __init__(self, env: dict[str, str], home: Path, port: int):
        self.env, self.home, self.base_url = env, home, f"http://127.0.0.1:{port}"
        self.processes: dict[str, subprocess.Popen] = {}
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
            log = open(self.home / f"{name}.log", "ab")
            self.processes[name] = subprocess.Popen(
                [str(Path(sys.executable).parent / "airflow"), name], env=self.env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
            )

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
            self._token = self.request("GET", "/auth/token")["access_token"]
        return self._token

    def wait_until(self, what: str, check, timeout: float, every: float = 1.0):
        deadline = time.monotonic() + timeout
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
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

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        quoted = urllib.parse.quote(run_id, safe="")
        answer = self.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quoted}/taskInstances?limit=100")
        return {ti["task_id"]: ti["state"] for ti in answer["task_instances"]}


@contextmanager
def airflow_services(config: stack.StackConfig, home: Path, port: int, extra_env: dict[str, str] | None = None):
    """Start the four components; yields an :class:`Airflow` once its API answers."""
    home.mkdir(parents=True, exist_ok=True)
    airflow = Airflow(services_env(config, home, port, extra_env or {}), home, port)
    try:
        airflow.start()
        airflow.wait_until("api-server up", lambda: airflow.request("GET", "/api/v2/monitor/health"), 180)
        yield airflow
    finally:
        airflow.stop()
