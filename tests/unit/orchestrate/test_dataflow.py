"""A retried Dataflow launch: the requests BatchFlexTemplateOperator sends to a fake Dataflow API.

The fake is a local HTTP server speaking the v1b3 REST paths (projects.locations.jobs.list,
projects.locations.flexTemplates.launch); the real DataflowHook builds its discovery client
(the v1b3 document google-api-python-client ships) against it, so these are the requests
Dataflow would receive.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httplib2
import pytest
from airflow.providers.google.cloud.hooks.dataflow import DataflowHook
from airflow.sdk.exceptions import TaskDeferred
from google.api_core.client_options import ClientOptions

from feedline.orchestrate import dataflow

PROJECT, REGION = "p-test", "europe-west1"
BASE = "feedline-transactions-0123456789ab"
NAME = f"{BASE}-a2"
JOBS_PATH = f"/v1b3/projects/{PROJECT}/locations/{REGION}/jobs"
LAUNCH_PATH = f"/v1b3/projects/{PROJECT}/locations/{REGION}/flexTemplates:launch"


class FakeDataflow:
    """Jobs the project/region holds (two pages when there are more than two), and every request."""

    def __init__(self, jobs: list[dict]):
        self.jobs = jobs
        self.requests: list[dict] = []

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, dict]:
        url = urlsplit(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        self.requests.append({"method": method, "path": url.path, "query": query,
                              "body": json.loads(body) if body else None})
        if method == "GET" and url.path == JOBS_PATH:
            start = int(query.get("pageToken", 0))
            page = self.jobs[start:start + 2]
            more = {"nextPageToken": str(start + 2)} if start + 2 < len(self.jobs) else {}
            return 200, {"jobs": page, **more}
        if method == "POST" and url.path == LAUNCH_PATH:
            name = json.loads(body)["launchParameter"]["jobName"]
            return 200, {"job": {"id": "launched-1", "name": name, "currentState": "JOB_STATE_QUEUED"}}
        return 404, {"error": {"code": 404, "message": f"no {method} {url.path}"}}


@pytest.fixture
def fake_api(monkeypatch):
    """fake_api(jobs) -> FakeDataflow, served on 127.0.0.1; DataflowHook pointed at it."""
    servers = []

    def start(jobs: list[dict]) -> FakeDataflow:
        fake = FakeDataflow(jobs)

        class Handler(BaseHTTPRequestHandler):
            def _reply(self):
                length = int(self.headers.get("Content-Length") or 0)
                status, payload = fake.handle(self.command, self.path, self.rfile.read(length))
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _reply

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        endpoint = f"http://127.0.0.1:{server.server_port}/"
        monkeypatch.setattr(DataflowHook, "_authorize", lambda self: httplib2.Http())
        monkeypatch.setattr(DataflowHook, "get_client_options", lambda self, *a, **k: ClientOptions(api_endpoint=endpoint))
        return fake

    monkeypatch.setenv("AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT", json.dumps({"conn_type": "google_cloud_platform"}))
    yield start
    for server in servers:
        server.shutdown()


class FakeTI:
    def __init__(self):
        self.xcom: dict = {}

    def xcom_push(self, key, value):
        self.xcom[key] = value


def operator() -> dataflow.BatchFlexTemplateOperator:
    body = {"launchParameter": {"jobName": BASE, "containerSpecGcsPath": "gs://w/t.json", "parameters": {}}}
    return dataflow.BatchFlexTemplateOperator(
        task_id="validate_rows", body=body, attempt="2", location=REGION, project_id=PROJECT,
    )


def context() -> dict:
    ti = FakeTI()
    return {"ti": ti, "task_instance": ti}


def job(job_id: str, state: str, name: str = NAME, created: str = "2026-12-01T10:00:00Z") -> dict:
    return {"id": job_id, "name": name, "currentState": state, "createTime": created}


def list_request() -> dict:
    return {"method": "GET", "path": JOBS_PATH, "query": {"name": NAME, "filter": "ALL", "alt": "json"}, "body": None}


def test_a_first_try_lists_the_batch_jobs_then_launches_and_defers_on_the_new_job(fake_api):
    fake = fake_api([job("other", "JOB_STATE_RUNNING", name="feedline-customers-aaaaaaaaaaaa-a1")])
    with pytest.raises(TaskDeferred) as deferred:
        operator().execute(context())
    assert deferred.value.trigger.job_id == "launched-1"
    assert [r["method"] for r in fake.requests] == ["GET", "POST"]
    assert fake.requests[0] == list_request()
    launched = fake.requests[1]
    assert launched["path"] == LAUNCH_PATH
    assert launched["body"]["launchParameter"]["jobName"] == NAME


def test_a_retry_while_the_job_runs_waits_for_that_job_and_launches_nothing(fake_api):
    fake = fake_api([
        job("old-failed", "JOB_STATE_FAILED", created="2026-12-01T09:00:00Z"),
        job("x", "JOB_STATE_DONE", name="feedline-transactions-0123456789ab-a1"),
        job("running", "JOB_STATE_RUNNING"),
    ])
    with pytest.raises(TaskDeferred) as deferred:
        operator().execute(context())
    assert deferred.value.trigger.job_id == "running"
    assert [r["method"] for r in fake.requests] == ["GET", "GET"]  # both pages, no launch
    assert fake.requests[1]["query"]["pageToken"] == "2"


def test_a_retry_after_the_job_finished_returns_it_and_launches_nothing(fake_api):
    fake = fake_api([job("done", "JOB_STATE_DONE")])
    ctx = context()
    result = operator().execute(ctx)
    assert result["id"] == "done"
    assert ctx["ti"].xcom["job_id"] == "done"
    assert [r["method"] for r in fake.requests] == ["GET"]


def test_a_retry_after_the_job_failed_launches_a_new_one(fake_api):
    fake = fake_api([job("failed", "JOB_STATE_FAILED"), job("cancelled", "JOB_STATE_CANCELLED")])
    with pytest.raises(TaskDeferred) as deferred:
        operator().execute(context())
    assert deferred.value.trigger.job_id == "launched-1"
    assert [r["method"] for r in fake.requests] == ["GET", "POST"]


def test_reusable_job_prefers_the_newest_active_then_the_newest_done():
    jobs = [
        job("d1", "JOB_STATE_DONE", created="2026-12-01T08:00:00Z"),
        job("d2", "JOB_STATE_DONE", created="2026-12-01T09:00:00Z"),
        job("q", "JOB_STATE_QUEUED", created="2026-12-01T07:00:00Z"),
        job("elsewhere", "JOB_STATE_RUNNING", name="feedline-other-a1"),
    ]
    assert dataflow.reusable_job(jobs, NAME)["id"] == "q"
    assert dataflow.reusable_job(jobs[:2], NAME)["id"] == "d2"
    assert dataflow.reusable_job([job("f", "JOB_STATE_FAILED")], NAME) is None
    assert dataflow.reusable_job([], NAME) is None


def test_each_attempt_of_a_batch_has_its_own_valid_job_name():
    assert dataflow.attempt_job_name(BASE, 1) != dataflow.attempt_job_name(BASE, 2)
    assert dataflow.attempt_job_name(BASE, 2) == NAME
    longest = "feedline-" + "x" * 36 + "-0123456789ab"
    assert len(dataflow.attempt_job_name(longest, 999)) <= 63
    with pytest.raises(ValueError):
        dataflow.attempt_job_name(longest, 10**6)
