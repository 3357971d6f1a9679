"""Feedline's own log entries: what check_batch and the failure callback send, and where."""

from __future__ import annotations

import dataclasses
import json
import logging
from types import SimpleNamespace

import pytest

from feedline.contract.model import load_contracts
from feedline.orchestrate import dag_factory, events, tasks
from feedline.settings import from_env

LOCAL = from_env({})
PROD = from_env({"FEEDLINE_ENV": "prod", "FEEDLINE_PROJECT": "p-prod", "FEEDLINE_TEMPLATE_SPEC": "gs://t/s.json"})
TX = load_contracts()["transactions"]


def report(rows_read=100, rows_deadletter=3, lost=None, file_shares=None) -> dict:
    share = rows_deadletter / rows_read if rows_read else 0.0
    return {"rows_read": rows_read, "rows_loaded": rows_read - rows_deadletter, "rows_deadletter": rows_deadletter,
            "share": share, "lost": lost or {}, "quarantined": {}, "reasons": [],
            "file_shares": file_shares or {"a.csv": {"rows_read": rows_read, "rows_deadletter": rows_deadletter, "share": share}}}


class FakeLogger:
    def __init__(self):
        self.entries: list[dict] = []

    def log_struct(self, info, **kwargs):
        self.entries.append({"info": info, **kwargs})


def test_the_audit_entry_carries_the_batch_its_counts_and_its_status():
    contract = dataclasses.replace(TX, deadletter_threshold=0.05)
    payload = events.batch_audited(PROD, contract, "scheduled__x", "b_1", 2, report())
    assert payload == {
        "kind": "batch_audited", "status": "ok", "env": "prod", "feed": "transactions",
        "dag_id": "feedline_transactions", "run_id": "scheduled__x", "batch_id": "b_1", "attempt": 2,
        "rows_read": 100, "rows_loaded": 97, "rows_deadletter": 3, "deadletter_share": 0.03,
    }
    assert list(payload) == events.spec()["kinds"]["batch_audited"]["fields"]
    assert events.batch_audited(PROD, dataclasses.replace(TX, deadletter_threshold=0.01), "r", "b", 1,
                                report())["status"] == "deadletter_above_threshold"
    assert events.batch_audited(PROD, contract, "r", "b", 1, report(lost={"a.csv": 1}))["status"] == "lost_rows"
    one_bad_file = report(file_shares={"a.csv": {"rows_read": 90, "rows_deadletter": 0, "share": 0.0},
                                       "b.csv": {"rows_read": 10, "rows_deadletter": 3, "share": 0.3}})
    assert events.batch_audited(PROD, contract, "r", "b", 1, one_bad_file)["status"] == "deadletter_above_threshold"


def test_an_entry_with_other_fields_or_an_undeclared_status_is_refused():
    payload = events.batch_audited(PROD, TX, "r", "b", 1, report())
    with pytest.raises(ValueError, match="fields"):
        events.checked({**payload, "extra": 1})
    with pytest.raises(ValueError, match="status"):
        events.checked({**payload, "status": "fine"})
    with pytest.raises(ValueError, match="kind"):
        events.checked({"kind": "other"})


def test_in_the_cloud_the_entry_goes_to_the_fixed_log_name_as_a_json_payload():
    logger = FakeLogger()
    payload = events.batch_audited(PROD, TX, "r", "b_1", 1, report(rows_deadletter=50))
    events.emit(PROD, payload, logger=logger)
    [entry] = logger.entries
    assert entry["info"] == payload
    assert entry["resource"].type == events.spec()["resource_type"]
    assert entry["resource"].labels == {"project_id": "p-prod"}
    assert entry["severity"] == "WARNING"


def test_the_cloud_logger_is_the_fixed_log_name_of_the_project(monkeypatch):
    from google.cloud import logging as cloud_logging

    made = {}

    class Client:
        def __init__(self, project):
            made["project"] = project

        def logger(self, name):
            made["name"] = name
            return FakeLogger()

    monkeypatch.setattr(cloud_logging, "Client", Client)
    events.cloud_logger(PROD)
    assert made == {"project": "p-prod", "name": "feedline-events"}
    assert events.spec()["log_name"] == "feedline-events"


def test_locally_the_entry_goes_to_the_process_log(caplog):
    payload = events.batch_audited(LOCAL, TX, "r", "b_1", 1, report())
    with caplog.at_level("INFO", logger=events.log.name):
        events.emit(LOCAL, payload)
    [message] = caplog.messages
    name, body = message.split(" ", 1)
    assert name == "feedline-events" and json.loads(body) == payload


def failure_context(task_id="merge_staging"):
    ti = SimpleNamespace(dag_id="feedline_transactions", task_id=task_id, try_number=3, run_id="manual__1")
    return {"ti": ti, "run_id": "manual__1", "exception": RuntimeError("MERGE failed")}


def test_a_failed_task_sends_its_task_and_error_at_error_severity():
    logger = FakeLogger()
    payload = events.task_failed(PROD, failure_context())
    assert payload == {
        "kind": "task_failed", "status": "failed", "env": "prod", "feed": "transactions",
        "dag_id": "feedline_transactions", "run_id": "manual__1", "task_id": "merge_staging",
        "try_number": 3, "error": "MERGE failed",
    }
    events.emit(PROD, payload, logger=logger)
    assert logger.entries[0]["severity"] == "ERROR"


def test_the_failure_callback_never_raises(monkeypatch, caplog):
    monkeypatch.setattr(events, "emit", lambda settings, payload: (_ for _ in ()).throw(RuntimeError("403")))
    with caplog.at_level(logging.ERROR, logger=events.log.name):
        events.FailureEvent(PROD)(failure_context())
    assert "could not write the task_failed event" in caplog.text


def test_every_task_of_every_dag_writes_the_failure_event():
    callbacks = dag_factory.failure_notifiers(PROD)
    assert any(isinstance(c, events.FailureEvent) for c in callbacks)
    assert isinstance(dag_factory.default_args(LOCAL)["on_failure_callback"][0], events.FailureEvent)


def test_check_batch_writes_the_audit_entry(monkeypatch):
    sent_events, texts = [], []
    monkeypatch.setattr(tasks, "send_slack", lambda settings, text: texts.append(text))
    monkeypatch.setattr(tasks.events, "emit", lambda settings, payload: sent_events.append(payload))

    class Hook:
        def __init__(self, **kwargs):
            pass

        def get_client(self, project_id, location):
            return "bq"

    class TI:
        def xcom_pull(self, task_ids, key):
            return {"batch_id": "b_1", "attempt": 1, "ingested_at": "2026-11-27T08:15:00.000000Z"}[key]

    monkeypatch.setattr(tasks, "BigQueryHook", Hook)
    monkeypatch.setattr(tasks.audit, "inspect_batch", lambda *a: report())
    tasks.check_batch.function(dataclasses.replace(TX, deadletter_threshold=0.05), LOCAL, ti=TI(), run_id="r_1")
    assert sent_events == [events.batch_audited(LOCAL, dataclasses.replace(TX, deadletter_threshold=0.05),
                                                "r_1", "b_1", 1, report())]
