"""The REST client against a small fake of Airflow's API (a thread-served HTTP server)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from feedline.local import airflow_api
from feedline.local.airflow_api import AirflowApi, AirflowApiError


class FakeAirflow:
    def __init__(self):
        self.requests: list[tuple[str, str, dict | None, str | None]] = []
        self.tokens = ["t1", "t2"]
        self.valid_token = None
        self.runs: dict[str, dict] = {}
        self.parsed_after = 0  # GET /dags/x answers 404 this many times first

    def handle(self, method, path, body, auth):
        self.requests.append((method, path, body, auth))
        if path == "/auth/token":
            if body != {"username": "admin", "password": "pw"}:
                return 401, {"detail": "bad credentials"}
            self.valid_token = self.tokens.pop(0)
            return 201, {"access_token": self.valid_token}
        if path == "/api/v2/monitor/health":
            return 200, {"scheduler": {"status": "healthy"}}
        if auth != f"Bearer {self.valid_token}":
            return 401, {"detail": "expired"}
        return self.route(method, path, body)

    def route(self, method, path, body):
        if path == "/api/v2/dags/feedline_x" and method == "GET":
            if self.parsed_after > 0:
                self.parsed_after -= 1
                return 404, {"detail": "not found"}
            return 200, {"dag_id": "feedline_x", "is_paused": True}
        if path == "/api/v2/dags/feedline_x" and method == "PATCH":
            return 200, {"dag_id": "feedline_x", "is_paused": body["is_paused"]}
        if path == "/api/v2/dags/feedline_x/dagRuns" and method == "POST":
            if body["dag_run_id"] in self.runs:
                return 409, {"detail": "exists"}
            self.runs[body["dag_run_id"]] = {"state": "queued", "polls": 0}
            return 200, {"dag_run_id": body["dag_run_id"], "state": "queued"}
        if path.startswith("/api/v2/dags/feedline_x/dagRuns/") and method == "GET":
            run = self.runs[path.rsplit("/", 1)[1].replace("%3A", ":")]
            run["polls"] += 1
            return 200, {"state": "success" if run["polls"] >= 2 else "running"}
        return 500, {"detail": "unexpected " + path}


@pytest.fixture
def fake():
    state = FakeAirflow()

    class Handler(BaseHTTPRequestHandler):
        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            status, answer = state.handle(self.command, self.path, body, self.headers.get("Authorization"))
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PATCH = _serve

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    yield state
    server.shutdown()


def test_trigger_logs_in_and_posts_the_event_functions_body(fake):
    api = AirflowApi(fake.url + "/", "admin", "pw")
    assert api.trigger("feedline_x", "demo__x__1", {"files": ["x/a.csv"]}) == "created"
    login, post = fake.requests
    assert login[:2] == ("POST", "/auth/token")
    assert post == ("POST", "/api/v2/dags/feedline_x/dagRuns",
                    {"dag_run_id": "demo__x__1", "logical_date": None, "conf": {"files": ["x/a.csv"]}}, "Bearer t1")


def test_the_same_run_id_again_is_exists_not_an_error(fake):
    api = AirflowApi(fake.url, "admin", "pw")
    api.trigger("feedline_x", "r1", {})
    assert api.trigger("feedline_x", "r1", {}) == "exists"


def test_an_expired_token_is_renewed_once(fake):
    api = AirflowApi(fake.url, "admin", "pw")
    api.login()
    fake.valid_token = "rotated"  # the server no longer accepts t1
    fake.tokens = ["t2"]
    assert api.unpause("feedline_x") == {"dag_id": "feedline_x", "is_paused": False}
    assert [r[:2] for r in fake.requests[-3:]] == [
        ("PATCH", "/api/v2/dags/feedline_x"), ("POST", "/auth/token"), ("PATCH", "/api/v2/dags/feedline_x")]


def test_wrong_credentials_raise_with_the_status(fake):
    with pytest.raises(AirflowApiError, match="answered 401") as caught:
        AirflowApi(fake.url, "admin", "wrong").unpause("feedline_x")
    assert caught.value.status == 401


def test_other_errors_raise(fake):
    with pytest.raises(AirflowApiError, match="answered 500"):
        AirflowApi(fake.url, "admin", "pw").call("GET", "/api/v2/nothing")


def test_wait_for_dag_polls_until_the_dag_is_parsed(fake):
    fake.parsed_after = 2
    api = AirflowApi(fake.url, "admin", "pw")
    assert airflow_api.wait_for_dag(api, "feedline_x", timeout=30)["dag_id"] == "feedline_x"
    assert sum(1 for r in fake.requests if r[:2] == ("GET", "/api/v2/dags/feedline_x")) == 3


def test_wait_for_run_returns_the_final_state(fake, monkeypatch):
    monkeypatch.setattr(airflow_api.time, "sleep", lambda seconds: None)
    api = AirflowApi(fake.url, "admin", "pw")
    api.trigger("feedline_x", "manual__2026-12-01T00:00:00", {})
    assert airflow_api.wait_for_run(api, "feedline_x", "manual__2026-12-01T00:00:00", timeout=30) == "success"


def test_health_needs_no_login(fake):
    assert AirflowApi(fake.url, "admin", "wrong").health() == {"scheduler": {"status": "healthy"}}


def test_wait_until_times_out():
    with pytest.raises(TimeoutError, match="waiting for nothing"):
        airflow_api.wait_until(lambda: None, timeout=0.05, interval=0.01, what="nothing")
