"""The pure parts of triggers/main.py: reading both event shapes, choosing the feed, the run id,
and what the Airflow client does with each answer (against a fake session, no server)."""

from __future__ import annotations

import base64
import json
import re

import pytest
import requests

from feedline.contract.model import load_contracts
from feedline.settings import REPO_ROOT

BUCKET = "proj-feedline-dev-landing"
NAME = "transactions/transactions_20261125.csv"


def resource(name=NAME, bucket=BUCKET, generation="1764072000123456"):
    return {"kind": "storage#object", "bucket": bucket, "name": name, "generation": generation,
            "size": "1234", "contentType": "text/csv"}


def pubsub_data(name=NAME, bucket=BUCKET, generation="1764072000123456", event_type="OBJECT_FINALIZE",
                attributes=True, payload=True):
    message = {"messageId": "17", "publishTime": "2026-11-25T12:00:00Z"}
    if payload:
        message["data"] = base64.b64encode(json.dumps(resource(name, bucket, generation)).encode()).decode()
    if attributes:
        message["attributes"] = {
            "bucketId": bucket, "objectId": name, "objectGeneration": generation,
            "eventType": event_type, "payloadFormat": "JSON_API_V1", "notificationConfig": "x",
        }
    return {"message": message, "subscription": "projects/p/subscriptions/feedline-dev-landing-events-push"}


# ------------------------------------------------------------------ event parsing


def test_pubsub_event_reads_the_attributes(trigger):
    obj = trigger.parse_event(trigger.PUBSUB_PUBLISHED, pubsub_data())
    assert obj == trigger.StorageObject(BUCKET, NAME, "1764072000123456", "OBJECT_FINALIZE")


def test_pubsub_event_without_attributes_reads_the_object_resource(trigger):
    obj = trigger.parse_event(trigger.PUBSUB_PUBLISHED, pubsub_data(attributes=False))
    assert obj == trigger.StorageObject(BUCKET, NAME, "1764072000123456", "OBJECT_FINALIZE")


def test_pubsub_attributes_without_generation_take_it_from_the_resource(trigger):
    data = pubsub_data()
    del data["message"]["attributes"]["objectGeneration"]
    assert trigger.parse_event(trigger.PUBSUB_PUBLISHED, data).generation == "1764072000123456"


def test_pubsub_event_data_may_arrive_as_json_bytes(trigger):
    obj = trigger.parse_event(trigger.PUBSUB_PUBLISHED, json.dumps(pubsub_data()).encode())
    assert obj.name == NAME


def test_storage_event_reads_the_object(trigger):
    obj = trigger.parse_event(trigger.STORAGE_FINALIZED, resource())
    assert obj == trigger.StorageObject(BUCKET, NAME, "1764072000123456", "OBJECT_FINALIZE")


def test_storage_event_generation_may_be_a_number(trigger):
    obj = trigger.parse_event(trigger.STORAGE_FINALIZED, {**resource(), "generation": 42})
    assert obj.generation == "42"


def test_other_event_types_are_not_read(trigger):
    assert trigger.parse_event("google.cloud.storage.object.v1.deleted", resource()) is None


@pytest.mark.parametrize(
    "event_type, data",
    [
        ("google.cloud.pubsub.topic.v1.messagePublished", {"nomessage": 1}),
        ("google.cloud.pubsub.topic.v1.messagePublished", {"message": {"data": "not base64 json!"}}),
        ("google.cloud.pubsub.topic.v1.messagePublished", {"message": {"attributes": {"eventType": "OBJECT_FINALIZE"}}}),
        ("google.cloud.storage.object.v1.finalized", {"bucket": BUCKET, "name": NAME}),
        ("google.cloud.storage.object.v1.finalized", "not json"),
        ("google.cloud.storage.object.v1.finalized", {**resource(), "generation": "12a"}),
        ("google.cloud.storage.object.v1.finalized", {**resource(), "generation": "\u0661\u0662"}),  # Arabic-Indic digits
        ("google.cloud.storage.object.v1.finalized", {**resource(), "generation": -5}),
        ("google.cloud.storage.object.v1.finalized", {**resource(), "generation": True}),
        ("google.cloud.storage.object.v1.finalized", {**resource(), "name": ""}),
        ("google.cloud.storage.object.v1.finalized", {**resource(), "name": ["a", "b"]}),
        ("google.cloud.pubsub.topic.v1.messagePublished", pubsub_data(generation="latest", payload=False)),
    ],
)
def test_unreadable_events_raise(trigger, event_type, data):
    with pytest.raises(trigger.EventError):
        trigger.parse_event(event_type, data)


def test_a_malformed_event_is_rejected_and_acknowledged_without_a_run(trigger, feeds_json):
    client = RecordingClient()
    result = trigger.handle(trigger.STORAGE_FINALIZED, {**resource(), "generation": "12a"},
                            {"FEEDLINE_FEEDS": feeds_json}, client)
    assert result == {"action": "rejected", "reason": "malformed event: generation '12a' is not a number"}
    assert client.calls == []


# ------------------------------------------------------------------ feed matching


@pytest.mark.parametrize(
    "name, feed",
    [
        ("transactions/transactions_20261125.csv", "transactions"),
        ("transactions/transactions_20261125_part-2.csv.gz", "transactions"),
        ("customers/customers_20261126_crm-v2.csv", "customers"),
        # The DAG's own claimed copies fire OBJECT_FINALIZE too: never a run.
        ("processing/transactions/manual_2026_abc/transactions_20261125.csv", None),
        ("processing/transactions/transactions_20261125.csv", None),
        ("transactions/date=20261125/b1/transactions_20261125.csv", None),
        ("transactions/sub/transactions_20261125.csv", None),
        ("transactions/customers_20261125.csv", None),  # another feed's file in this prefix
        ("transactions/transactions_2026112.csv", None),
        ("transactions/transactions_20261125.csv.tmp", None),
        ("transactions/", None),  # a "folder" placeholder
        ("transactions_20261125.csv", None),  # bucket root
        ("orders/orders_20261125.csv", None),  # no such feed
    ],
)
def test_match_feed(trigger, feeds, name, feed):
    found = trigger.match_feed(name, feeds)
    assert (found.name if found else None) == feed


def test_every_sample_file_matches_its_feed(trigger, feeds):
    contracts = load_contracts()
    for path in sorted((REPO_ROOT / "samples").glob("*.csv*")):
        owner = next(f for f, c in contracts.items() if c.matches_file_name(path.name))
        assert trigger.match_feed(f"{owner}/{path.name}", feeds).name == owner


def test_load_feeds_refuses_a_missing_or_broken_map(trigger):
    for raw in (None, "", "{not json", '{"x": {"dag_id": "d"}}', '{"x": {"dag_id": "d", "file_pattern": "("}}'):
        with pytest.raises(RuntimeError):
            trigger.load_feeds(raw)


# ------------------------------------------------------------------ run id


def obj(trigger, name=NAME, bucket=BUCKET, generation="1764072000123456"):
    return trigger.StorageObject(bucket, name, generation)


def test_run_id_is_stable_for_one_generation(trigger):
    assert trigger.run_id_for("transactions", obj(trigger)) == trigger.run_id_for("transactions", obj(trigger))


def test_run_id_differs_per_generation_bucket_and_object(trigger):
    ids = {
        trigger.run_id_for("transactions", obj(trigger)),
        trigger.run_id_for("transactions", obj(trigger, generation="1764072000123457")),
        trigger.run_id_for("transactions", obj(trigger, bucket="other-landing")),
        trigger.run_id_for("transactions", obj(trigger, name="transactions/transactions_20261126.csv")),
    }
    assert len(ids) == 4


def test_names_that_sanitize_alike_get_distinct_run_ids(trigger):
    a = trigger.run_id_for("customers", obj(trigger, name="customers/customers_20261125_a b.csv"))
    b = trigger.run_id_for("customers", obj(trigger, name="customers/customers_20261125_a_b.csv"))
    assert a != b


@pytest.mark.parametrize(
    "name",
    ["transactions/transactions_20261125.csv", "customers/customers_20261125_" + "x" * 400 + ".csv",
     "customers/customers_20261125_ünï cødé (1).csv"],
)
def test_run_id_is_a_valid_airflow_run_id(trigger, name):
    run_id = trigger.run_id_for("transactions", obj(trigger, name=name))
    assert re.fullmatch(r"^[A-Za-z0-9_.~:+-]+$", run_id), run_id  # Airflow's allowed_run_id_pattern
    assert len(run_id) <= 250
    assert run_id.startswith("gcs__transactions__")


def test_dag_run_request(trigger, feeds):
    body = trigger.dag_run_request(feeds["transactions"], obj(trigger))
    assert body == {
        "dag_run_id": trigger.run_id_for("transactions", obj(trigger)),
        "logical_date": None,
        "conf": {"files": [NAME]},
    }


# ------------------------------------------------------------------ Airflow client


class FakeResponse:
    def __init__(self, status, payload=None):
        self.status_code, self._payload = status, payload or {}
        self.text = json.dumps(self._payload)

    def json(self):
        return self._payload


class FakeSession:
    def __init__(self, *answers):
        self.answers, self.calls = list(answers), []

    def post(self, url, json=None, headers=None, timeout=None):
        self.calls.append((url, json, headers or {}))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


BODY = {"dag_run_id": "r", "logical_date": None, "conf": {"files": [NAME]}}


def test_client_created_and_exists(trigger):
    session = FakeSession(FakeResponse(200), FakeResponse(409))
    client = trigger.AirflowClient("https://airflow.example/", session)
    assert client.trigger("feedline_transactions", BODY) == "created"
    assert client.trigger("feedline_transactions", BODY) == "exists"
    assert session.calls[0][0] == "https://airflow.example/api/v2/dags/feedline_transactions/dagRuns"
    assert session.calls[0][1] == BODY
    assert "Authorization" not in session.calls[0][2]  # google mode: the AuthorizedSession signs


@pytest.mark.parametrize("status", [500, 503, 400, 403, 404])
def test_client_raises_on_any_other_answer(trigger, status):
    client = trigger.AirflowClient("https://airflow.example", FakeSession(FakeResponse(status)))
    with pytest.raises(trigger.AirflowError, match=str(status)):
        client.trigger("feedline_transactions", BODY)


def test_client_lets_connection_errors_through(trigger):
    client = trigger.AirflowClient("https://airflow.example", FakeSession(requests.ConnectionError("refused")))
    with pytest.raises(requests.ConnectionError):
        client.trigger("feedline_transactions", BODY)


def test_password_client_logs_in_once_and_again_after_a_401(trigger):
    session = FakeSession(
        FakeResponse(201, {"access_token": "t1"}), FakeResponse(200), FakeResponse(409),
        FakeResponse(401), FakeResponse(201, {"access_token": "t2"}), FakeResponse(409),
    )
    client = trigger.AirflowClient("http://127.0.0.1:1", session, "feedline", "pw")
    assert client.trigger("d", BODY) == "created"
    assert client.trigger("d", BODY) == "exists"
    assert client.trigger("d", BODY) == "exists"
    urls = [c[0].rsplit("/", 1)[-1] for c in session.calls]
    assert urls == ["token", "dagRuns", "dagRuns", "dagRuns", "token", "dagRuns"]
    assert session.calls[0][1] == {"username": "feedline", "password": "pw"}
    assert session.calls[1][2] == {"Authorization": "Bearer t1"}
    assert session.calls[5][2] == {"Authorization": "Bearer t2"}


def test_password_client_raises_when_login_fails(trigger):
    client = trigger.AirflowClient("http://127.0.0.1:1", FakeSession(FakeResponse(401)), "feedline", "bad")
    with pytest.raises(trigger.AirflowError, match="auth/token"):
        client.trigger("d", BODY)


def test_client_from_env_checks_its_settings(trigger):
    with pytest.raises(RuntimeError, match="FEEDLINE_AIRFLOW_API_URL"):
        trigger.client_from_env({})
    with pytest.raises(RuntimeError, match="FEEDLINE_AIRFLOW_USER"):
        trigger.client_from_env({"FEEDLINE_AIRFLOW_API_URL": "http://x", "FEEDLINE_AIRFLOW_AUTH": "password"})
    with pytest.raises(RuntimeError, match="expected google or password"):
        trigger.client_from_env({"FEEDLINE_AIRFLOW_API_URL": "http://x", "FEEDLINE_AIRFLOW_AUTH": "basic"})


# ------------------------------------------------------------------ handle()


class RecordingClient:
    def __init__(self, answer="created"):
        self.answer, self.calls = answer, []

    def trigger(self, dag_id, body):
        self.calls.append((dag_id, body))
        return self.answer


def test_handle_triggers_the_feeds_dag(trigger, feeds_json):
    client = RecordingClient()
    result = trigger.handle(trigger.PUBSUB_PUBLISHED, pubsub_data(), {"FEEDLINE_FEEDS": feeds_json}, client)
    assert result["action"] == "created"
    assert client.calls == [("feedline_transactions", trigger.dag_run_request(
        trigger.load_feeds(feeds_json)["transactions"], obj(trigger)))]


@pytest.mark.parametrize(
    "event_type, data",
    [
        ("google.cloud.pubsub.topic.v1.messagePublished",
         pubsub_data(name="processing/transactions/b1/transactions_20261125.csv")),
        ("google.cloud.pubsub.topic.v1.messagePublished", pubsub_data(event_type="OBJECT_DELETE")),
        ("google.cloud.pubsub.topic.v1.messagePublished", pubsub_data(name="transactions/notes.txt")),
        ("google.cloud.storage.object.v1.finalized", resource(name="archive/transactions_20261125.csv")),
        ("google.cloud.storage.object.v1.archived", resource()),
    ],
)
def test_handle_ignores_what_is_not_a_landed_feed_file(trigger, feeds_json, event_type, data):
    client = RecordingClient()
    result = trigger.handle(event_type, data, {"FEEDLINE_FEEDS": feeds_json}, client)
    assert result["action"] == "ignored"
    assert client.calls == []
