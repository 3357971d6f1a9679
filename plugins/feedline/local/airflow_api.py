"""A small client of Airflow's REST API (v2) for the local stack: log in with the simple auth
manager, wait for a DAG to be parsed, unpause it, trigger a run the way a user or the event
function does, and poll the run. Standard library only (urllib), so it runs anywhere.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from typing import Any, Callable

FINISHED = ("success", "failed")


class AirflowApiError(RuntimeError):
    def __init__(self, method: str, url: str, status: int, body: str):
        super().__init__(f"{method} {url} answered {status}: {body[:500]}")
        self.status = status


class AirflowApi:
    def __init__(self, base_url: str, user: str, password: str, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.user, self.password, self.timeout = user, password, timeout
        self._token: str | None = None

    def _send(self, method: str, path: str, body: Any = None, token: str | None = None) -> Any:
        url = self.base_url + path
        request = urllib.request.Request(url, method=method, data=None if body is None else json.dumps(body).encode())
        request.add_header("Content-Type", "application/json")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as exc:
            raise AirflowApiError(method, url, exc.code, exc.read().decode(errors="replace")) from None
        return json.loads(text) if text else None

    def login(self) -> str:
        answer = self._send("POST", "/auth/token", {"username": self.user, "password": self.password})
        self._token = answer["access_token"]
        return self._token

    def call(self, method: str, path: str, body: Any = None) -> Any:
        """One authenticated call; an expired token is renewed once."""
        try:
            return self._send(method, path, body, self._token or self.login())
        except AirflowApiError as exc:
            if exc.status != 401:
                raise
            return self._send(method, path, body, self.login())

    def health(self) -> dict[str, Any]:
        return self._send("GET", "/api/v2/monitor/health")

    def dag(self, dag_id: str) -> dict[str, Any] | None:
        """The DAG, or None while the DAG processor has not parsed it yet."""
        try:
            return self.call("GET", f"/api/v2/dags/{_quote(dag_id)}")
        except AirflowApiError as exc:
            if exc.status == 404:
                return None
            raise

    def unpause(self, dag_id: str) -> dict[str, Any]:
        return self.call("PATCH", f"/api/v2/dags/{_quote(dag_id)}", {"is_paused": False})

    def trigger(self, dag_id: str, run_id: str, conf: dict[str, Any]) -> str:
        """'created', or 'exists' when this run id was triggered before (409)."""
        body = {"dag_run_id": run_id, "logical_date": None, "conf": conf}
        try:
            self.call("POST", f"/api/v2/dags/{_quote(dag_id)}/dagRuns", body)
        except AirflowApiError as exc:
            if exc.status == 409:
                return "exists"
            raise
        return "created"

    def run(self, dag_id: str, run_id: str) -> dict[str, Any]:
        return self.call("GET", f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}")

    def active_runs(self, dag_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{_quote(dag_id)}/dagRuns?state=running&state=queued"
        return self.call("GET", path)["dag_runs"]

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{_quote(dag_id)}/dagRuns/{_quote(run_id)}/taskInstances"
        return self.call("GET", path)["task_instances"]

    def dag_ids(self) -> list[str]:
        return [d["dag_id"] for d in self.call("GET", "/api/v2/dags")["dags"]]


def instant(text: str) -> datetime:
    """A timestamp of the API's answers (ISO 8601, ``Z`` or an offset) as an aware datetime."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _quote(part: str) -> str:
    return urllib.parse.quote(part, safe="")


def wait_until(check: Callable[[], Any], timeout: float, interval: float = 1.0, what: str = "condition") -> Any:
    """Call ``check`` until it returns something truthy; TimeoutError after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


def wait_for_dag(api: AirflowApi, dag_id: str, timeout: float = 180.0) -> dict[str, Any]:
    return wait_until(lambda: api.dag(dag_id), timeout, what=f"the DAG processor to parse {dag_id}")


def wait_for_run(api: AirflowApi, dag_id: str, run_id: str, timeout: float = 600.0) -> str:
    """Poll the run until it finishes; returns its final state."""
    def finished() -> str | None:
        state = api.run(dag_id, run_id)["state"]
        return state if state in FINISHED else None

    return wait_until(finished, timeout, interval=2.0, what=f"run {run_id} of {dag_id}")
