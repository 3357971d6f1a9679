"""feedline-trigger: a file finalized in the landing bucket starts its feed's DAG run.

GCS OBJECT_FINALIZE -> Pub/Sub -> push subscription -> this Cloud Run function -> Airflow REST API
``POST /api/v2/dags/<dag_id>/dagRuns`` with ``conf = {"files": ["<feed>/<file>"]}``.

Accepted events (functions-framework turns the Pub/Sub push body into the first kind):

* ``google.cloud.pubsub.topic.v1.messagePublished``: ``data.message.attributes`` carries
  bucketId, objectId, eventType and objectGeneration; ``data.message.data`` is the base64 JSON
  object resource (used when the attributes are missing);
* ``google.cloud.storage.object.v1.finalized``: ``data`` is the object resource (bucket, name,
  generation), e.g. from an Eventarc storage trigger.

Only objects directly under ``<feed>/`` whose name matches that feed's contract pattern start a
run; everything else (the DAG's own ``processing/<feed>/<batch>/`` copies, archives, unknown
names, other event types) is logged and acknowledged: a retry would not change the answer.
A malformed event (no bucket or name, a generation that is not a number, unreadable data) is
rejected the same way, with an ERROR line naming what is wrong: redelivering it cannot help.

The run id is derived from bucket, object and generation, so a redelivered event asks for the
same run and Airflow answers 409, which counts as success. A new upload of the same name is a
new generation and therefore a new run. Airflow 5xx, connection errors and any other refusal
raise: the function answers 500 and Pub/Sub redelivers (dead-letter topic after N attempts).

Settings (environment): FEEDLINE_AIRFLOW_API_URL (the Airflow web server URL),
FEEDLINE_FEEDS (JSON feed -> {dag_id, file_pattern}, built from the contracts by Terraform or
``python triggers/feed_config.py``), FEEDLINE_AIRFLOW_AUTH = google (default: Google-signed
identity of the runtime account, what Composer 3 expects) or password (local Airflow with the
simple auth manager; FEEDLINE_AIRFLOW_USER / FEEDLINE_AIRFLOW_PASSWORD, POST /auth/token).

No Airflow imports: this runs in a small image with the packages of requirements.txt.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import sys
import threading
from dataclasses import dataclass
from typing import Any, Mapping

import functions_framework
import requests

PUBSUB_PUBLISHED = "google.cloud.pubsub.topic.v1.messagePublished"
STORAGE_FINALIZED = "google.cloud.storage.object.v1.finalized"
GCS_FINALIZE = "OBJECT_FINALIZE"

API_URL_ENV = "FEEDLINE_AIRFLOW_API_URL"
FEEDS_ENV = "FEEDLINE_FEEDS"
AUTH_ENV = "FEEDLINE_AIRFLOW_AUTH"
USER_ENV = "FEEDLINE_AIRFLOW_USER"
PASSWORD_ENV = "FEEDLINE_AIRFLOW_PASSWORD"

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
TIMEOUT = (10, 30)  # connect, read; the function's own timeout is 60 s (terraform/modules/trigger)

# Airflow's default [core] allowed_run_id_pattern, and its run_id column width.
AIRFLOW_RUN_ID = re.compile(r"^[A-Za-z0-9_.~:+-]+$")
RUN_ID_MAX = 250
# GCS generations are decimal int64 values; ASCII digits only (\d would take any Unicode digit).
GENERATION = re.compile(r"^[0-9]{1,19}$")
_UNSAFE = re.compile(r"[^A-Za-z0-9_.~:+-]+")


class EventError(ValueError):
    """An event this function cannot read (rejected and acknowledged: a retry cannot fix it)."""


class AirflowError(RuntimeError):
    """Airflow did not accept the run (raised: Pub/Sub retries, then dead-letters the event)."""


@dataclass(frozen=True)
class StorageObject:
    bucket: str
    name: str
    generation: str
    event_type: str = GCS_FINALIZE


@dataclass(frozen=True)
class Feed:
    name: str
    dag_id: str
    pattern: re.Pattern


# ---------------------------------------------------------------- pure parts


def parse_event(event_type: str, data: Any) -> StorageObject | None:
    """The object a CloudEvent is about, or None for an event type this function ignores."""
    data = _as_json(data, "event data")
    if event_type == PUBSUB_PUBLISHED:
        return _from_pubsub(data)
    if event_type == STORAGE_FINALIZED:
        return _from_resource(data, GCS_FINALIZE)
    return None


def _from_pubsub(data: Any) -> StorageObject:
    if not isinstance(data, dict) or not isinstance(data.get("message"), dict):
        raise EventError("Pub/Sub event without data.message")
    message = data["message"]
    attributes = message.get("attributes") or {}
    resource: dict = {}
    if message.get("data"):
        try:
            resource = _as_json(base64.b64decode(message["data"]), "message.data")
        except (ValueError, TypeError) as exc:
            raise EventError(f"message.data is not base64 JSON: {exc}") from exc
    event_type = attributes.get("eventType") or GCS_FINALIZE
    if "bucketId" in attributes and "objectId" in attributes:
        generation = attributes.get("objectGeneration") or resource.get("generation")
        return _object(attributes["bucketId"], attributes["objectId"], generation, event_type)
    if not resource:
        raise EventError("Pub/Sub message has neither object attributes nor an object resource")
    return _from_resource(resource, event_type)


def _from_resource(resource: Any, event_type: str) -> StorageObject:
    if not isinstance(resource, dict):
        raise EventError("the object resource is not a JSON object")
    return _object(resource.get("bucket"), resource.get("name"), resource.get("generation"), event_type)


def _object(bucket: Any, name: Any, generation: Any, event_type: str) -> StorageObject:
    if not bucket or not name or generation in (None, ""):
        raise EventError(f"incomplete object: bucket={bucket!r} name={name!r} generation={generation!r}")
    if not isinstance(bucket, str) or not isinstance(name, str):
        raise EventError(f"bucket and name must be strings: bucket={bucket!r} name={name!r}")
    if isinstance(generation, bool) or not GENERATION.match(str(generation)):
        raise EventError(f"generation {generation!r} is not a number")
    return StorageObject(bucket, name, str(generation), str(event_type))


def _as_json(value: Any, what: str) -> Any:
    if isinstance(value, (bytes, bytearray)):
        value = value.decode("utf-8")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError as exc:
            raise EventError(f"{what} is not JSON: {exc}") from exc
    return value


def load_feeds(raw: str | None) -> dict[str, Feed]:
    """FEEDLINE_FEEDS -> feeds by name. Missing or malformed is a deployment error (raised)."""
    if not raw:
        raise RuntimeError(f"{FEEDS_ENV} is not set (JSON feed -> {{dag_id, file_pattern}})")
    try:
        spec = json.loads(raw)
        return {
            feed: Feed(feed, str(f["dag_id"]), re.compile(f["file_pattern"]))
            for feed, f in spec.items()
        }
    except (ValueError, TypeError, KeyError, AttributeError, re.error) as exc:
        raise RuntimeError(f"{FEEDS_ENV} is not a valid feed map: {exc}") from exc


def match_feed(object_name: str, feeds: Mapping[str, Feed]) -> Feed | None:
    """The feed of an object directly under ``<feed>/`` whose file name matches the feed's
    pattern; None for anything else (processing/, archive-like paths, folders, unknown names)."""
    parts = object_name.split("/")
    if len(parts) != 2:
        return None
    feed = feeds.get(parts[0])
    if feed is None or not parts[1] or not feed.pattern.match(parts[1]):
        return None
    return feed


def run_id_for(feed: str, obj: StorageObject) -> str:
    """Deterministic per (bucket, object, generation): a redelivery asks for the same run.

    Readable (feed, file name, generation) plus a hash of all three, so two objects whose
    names sanitize alike never share an id. Matches Airflow's allowed_run_id_pattern."""
    digest = hashlib.sha256(f"{obj.bucket}\n{obj.name}\n{obj.generation}".encode()).hexdigest()[:16]
    file_name = _UNSAFE.sub("_", obj.name.rsplit("/", 1)[-1]).strip("_")[:120]
    generation = _UNSAFE.sub("_", obj.generation)[:24]
    return f"gcs__{feed}__{file_name}__{generation}__{digest}"[:RUN_ID_MAX]


def dag_run_request(feed: Feed, obj: StorageObject) -> dict[str, Any]:
    """The body of POST /api/v2/dags/{dag_id}/dagRuns."""
    return {"dag_run_id": run_id_for(feed.name, obj), "logical_date": None, "conf": {"files": [obj.name]}}


# ---------------------------------------------------------------- Airflow REST client


class AirflowClient:
    """POSTs DAG runs. ``session`` is a requests.Session (AuthorizedSession in the cloud)."""

    def __init__(self, base_url: str, session: requests.Session, user: str | None = None,
                 password: str | None = None):
        self.base_url = base_url.rstrip("/")
        self.session = session
        self.user, self.password = user, password
        self._token: str | None = None
        self._lock = threading.Lock()

    def trigger(self, dag_id: str, body: dict[str, Any]) -> str:
        """'created' (200) or 'exists' (409: this run id was already triggered)."""
        url = f"{self.base_url}/api/v2/dags/{dag_id}/dagRuns"
        response = self._post(url, body)
        if response.status_code == 401 and self.user is not None:
            self._token = None  # expired token: log in again, once
            response = self._post(url, body)
        if response.status_code in (200, 201):
            return "created"
        if response.status_code == 409:
            return "exists"
        raise AirflowError(f"POST {url} answered {response.status_code}: {response.text[:500]}")

    def _post(self, url: str, body: dict[str, Any]) -> requests.Response:
        headers = {"Authorization": f"Bearer {self._bearer()}"} if self.user is not None else {}
        return self.session.post(url, json=body, headers=headers, timeout=TIMEOUT)

    def _bearer(self) -> str:
        with self._lock:
            if self._token is None:
                url = f"{self.base_url}/auth/token"
                response = self.session.post(
                    url, json={"username": self.user, "password": self.password}, timeout=TIMEOUT
                )
                if response.status_code not in (200, 201):
                    raise AirflowError(f"POST {url} answered {response.status_code}: {response.text[:200]}")
                self._token = response.json()["access_token"]
            return self._token


_clients: dict[tuple, AirflowClient] = {}


def client_from_env(environ: Mapping[str, str] = os.environ) -> AirflowClient:
    """One client per configuration and instance (reused across invocations)."""
    url = environ.get(API_URL_ENV)
    if not url:
        raise RuntimeError(f"{API_URL_ENV} is not set")
    auth = environ.get(AUTH_ENV, "google")
    key = (url, auth, environ.get(USER_ENV), environ.get(PASSWORD_ENV))
    if key not in _clients:
        if auth == "google":
            import google.auth
            from google.auth.transport.requests import AuthorizedSession

            credentials, _ = google.auth.default(scopes=[CLOUD_PLATFORM_SCOPE])
            _clients[key] = AirflowClient(url, AuthorizedSession(credentials))
        elif auth == "password":
            if not environ.get(USER_ENV) or not environ.get(PASSWORD_ENV):
                raise RuntimeError(f"{AUTH_ENV}=password needs {USER_ENV} and {PASSWORD_ENV}")
            _clients[key] = AirflowClient(url, requests.Session(), environ[USER_ENV], environ[PASSWORD_ENV])
        else:
            raise RuntimeError(f"{AUTH_ENV}={auth!r}: expected google or password")
    return _clients[key]


# ---------------------------------------------------------------- the function


def log(severity: str, message: str, **fields: Any) -> None:
    """One structured line (Cloud Logging reads severity and message from JSON on stdout)."""
    print(json.dumps({"severity": severity, "message": message, **fields}, default=str), file=sys.stdout, flush=True)


def handle(event_type: str, data: Any, environ: Mapping[str, str] = os.environ,
           client: AirflowClient | None = None) -> dict[str, Any]:
    """What the function does with one event; returns what it decided (for logs and tests)."""
    try:
        obj = parse_event(event_type, data)
    except EventError as exc:
        return {"action": "rejected", "reason": f"malformed event: {exc}"}
    if obj is None:
        return {"action": "ignored", "reason": f"event type {event_type}"}
    where = {"bucket": obj.bucket, "object": obj.name, "generation": obj.generation}
    if obj.event_type != GCS_FINALIZE:
        return {"action": "ignored", "reason": f"storage event {obj.event_type}", **where}
    feed = match_feed(obj.name, load_feeds(environ.get(FEEDS_ENV)))
    if feed is None:
        return {"action": "ignored", "reason": "not a feed file directly under <feed>/", **where}
    body = dag_run_request(feed, obj)
    outcome = (client or client_from_env(environ)).trigger(feed.dag_id, body)
    return {"action": outcome, "dag_id": feed.dag_id, "dag_run_id": body["dag_run_id"], **where}


@functions_framework.cloud_event
def on_landing_event(cloud_event) -> None:
    """Entry point (terraform/modules/trigger: entry_point = on_landing_event)."""
    event_type, event_id = cloud_event["type"], cloud_event["id"]
    try:
        result = handle(event_type, cloud_event.data)
    except Exception as exc:
        log("ERROR", f"event {event_id} not handled, it will be redelivered: {exc}",
            event_id=event_id, event_type=event_type)
        raise
    severity = "ERROR" if result["action"] == "rejected" else "INFO"
    message = f"event {event_id}: {result['action']}" + (f" ({result['reason']})" if "reason" in result else "")
    log(severity, message, event_id=event_id, event_type=event_type, **result)
