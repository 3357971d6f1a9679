"""The Python tasks' own BigQuery queries are bounded like the operators' calls: an unreachable
BigQuery fails the try within about SERVICE_RETRY_SECONDS (then Airflow retries), never the
client's 600 s default. Shown against a port where nothing listens."""

from __future__ import annotations

import concurrent.futures
import socket
import time

from google.api_core.client_options import ClientOptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import bigquery

from feedline.orchestrate import bq_calls


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_query_against_an_unreachable_bigquery_gives_up_at_the_bound(monkeypatch):
    monkeypatch.setattr(bq_calls, "BIGQUERY_CALL_RETRY", bq_calls.BIGQUERY_CALL_RETRY.with_timeout(3))
    client = bigquery.Client(
        project="p", credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=f"http://127.0.0.1:{closed_port()}"),
    )
    # In a thread, so an unbounded call fails this test in a minute rather than hanging it.
    pool = concurrent.futures.ThreadPoolExecutor(1)
    started = time.monotonic()
    call = pool.submit(bq_calls.query_rows, client, "SELECT 1")
    failure = call.exception(timeout=60)
    pool.shutdown(wait=False)
    assert failure is not None and "Connection refused" in str(failure), failure
    took = time.monotonic() - started
    assert took < 30, f"gave up after {took:.0f} s: not bounded by the retry passed"


def test_the_bound_is_a_few_minutes_at_most():
    assert bq_calls.BIGQUERY_CALL_RETRY.timeout == bq_calls.SERVICE_RETRY_SECONDS <= 180
    assert bq_calls.REQUEST_TIMEOUT_SECONDS < bq_calls.SERVICE_RETRY_SECONDS
