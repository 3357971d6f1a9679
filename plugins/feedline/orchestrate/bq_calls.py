"""How long a BigQuery call may take before its task try gives up: the same bound for the
operators (``result_retry``) and for the Python tasks' own queries (audit, claim quarantines).

google-cloud-bigquery retries a call for up to 600 s by default; an unreachable BigQuery would
then hold a task try ten minutes. Here a try gives up after SERVICE_RETRY_SECONDS and Airflow
retries the task with its exponential backoff instead.
"""

from __future__ import annotations

from typing import Any

from google.cloud.bigquery.retry import DEFAULT_RETRY

SERVICE_RETRY_SECONDS = 120
# Each HTTP request (submit, poll, page of results) waits at most this long for an answer.
REQUEST_TIMEOUT_SECONDS = 60
BIGQUERY_CALL_RETRY = DEFAULT_RETRY.with_timeout(SERVICE_RETRY_SECONDS)


def query_rows(client, statement: str, job_config=None) -> list[dict[str, Any]]:
    """Run a query and return its rows; every call bounded as above (``client``: a
    google.cloud.bigquery.Client). ``job_retry=None``: with any other value ``Client.query``
    wraps the submit in its own 10-minute retry whatever ``retry`` says, and re-runs a failed
    job for up to 40 minutes; Airflow's task retries do both here."""
    job = client.query(statement, job_config=job_config, retry=BIGQUERY_CALL_RETRY, job_retry=None,
                       timeout=REQUEST_TIMEOUT_SECONDS)
    # No timeout on the wait itself: a long job may run; each poll is bounded by the retry.
    return [dict(row) for row in job.result(retry=BIGQUERY_CALL_RETRY)]
