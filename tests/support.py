"""Small helpers shared by tests."""

from __future__ import annotations

import base64
import json
import re
import secrets
from pathlib import Path

SPECTRUM = Path(__file__).resolve().parent / "data" / "csv-spectrum"
SPECTRUM_CASES = sorted(p.stem for p in (SPECTRUM / "csvs").glob("*.csv"))
# A missing copy must fail loudly, never parametrize to nothing.
if len(SPECTRUM_CASES) != 12:
    raise FileNotFoundError(f"csv-spectrum data missing under {SPECTRUM}")

# Upstream's expected JSON for location_coordinates carries a different phone number than its
# CSV (and is an object, not a list); the CSV is the data, so the expectation is corrected here.
SPECTRUM_ERRATA = {"location_coordinates": {"Contact Phone Number": "2095257564"}}


def spectrum_expected(name: str) -> list[dict[str, str]]:
    """csv-spectrum's expected records for one file, erratum applied."""
    expected = json.loads((SPECTRUM / "json" / f"{name}.json").read_text(encoding="utf-8"))
    expected = expected if isinstance(expected, list) else [expected]
    return [{**record, **SPECTRUM_ERRATA.get(name, {})} for record in expected]


def rows(bq, statement: str, **params) -> list[dict]:
    """Run a query with scalar parameters (types inferred from Python values)."""
    from google.cloud import bigquery

    types = {str: "STRING", int: "INT64", float: "FLOAT64", bool: "BOOL"}
    config = bigquery.QueryJobConfig(
        query_parameters=[bigquery.ScalarQueryParameter(k, types[type(v)], v) for k, v in params.items()]
    )
    return [dict(r) for r in bq.query(statement, job_config=config).result()]


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def reset(settings, contracts) -> None:
    """Empty every feed table and bucket of the test stack (tests share one stack)."""
    from feedline.contract import tables
    from feedline.local.provision import bigquery_client, storage_client

    bq = bigquery_client(settings.project)
    for contract in contracts.values():
        for spec in tables.table_specs(contract).values():
            bq.query(f"DELETE FROM `{settings.project}.{spec.table_id}` WHERE TRUE").result()
    # every batch's load tables (one per batch and output)
    for table in bq.list_tables(f"{settings.project}.{tables.dataset_names()['load']}"):
        bq.delete_table(table, not_found_ok=True)
    gcs = storage_client(settings.project)
    for bucket in (settings.landing_bucket, settings.archive_bucket, settings.quarantine_bucket, settings.work_bucket):
        for blob in gcs.list_blobs(bucket):
            blob.delete()


def push_body(name: str, generation: str, bucket: str = "feedline-landing", event_type: str = "OBJECT_FINALIZE") -> dict:
    """What the push subscription POSTs (wrapped Pub/Sub message, JSON_API_V1 payload)."""
    resource = {"kind": "storage#object", "bucket": bucket, "name": name, "generation": generation,
                "contentType": "text/csv", "size": "321"}
    return {
        "message": {
            "attributes": {"bucketId": bucket, "objectId": name, "objectGeneration": generation,
                           "eventType": event_type, "payloadFormat": "JSON_API_V1",
                           "notificationConfig": f"projects/_/buckets/{bucket}/notificationConfigs/1"},
            "data": base64.b64encode(json.dumps(resource).encode()).decode(),
            "messageId": secrets.token_hex(6),
            "publishTime": "2026-11-25T12:00:00.000Z",
        },
        "subscription": "projects/feedline-local/subscriptions/feedline-local-landing-events-push",
    }


def contracts_dir(tmp_path, **changes: dict) -> str:
    """The repository's contracts with some fields changed, by feed (tables stay the same)."""
    import yaml

    from feedline.contract.model import REPOSITORY_CONTRACTS_DIR

    folder = tmp_path / "contracts"
    folder.mkdir()
    for path in REPOSITORY_CONTRACTS_DIR.glob("*.yaml"):
        raw = yaml.safe_load(path.read_text())
        raw.update(changes.get(raw["feed"], {}))
        (folder / path.name).write_text(yaml.safe_dump(raw, sort_keys=False))
    return str(folder)


def run_state(log: str) -> str | None:
    """The state `python -m feedline.local.run_dag` printed for its run. Its line is not always
    the log's last: the OpenLineage listener may log its DAG-run event after it."""
    states = re.findall(r"^feedline run_dag: .* state=(\w+)$", log, re.MULTILINE)
    return states[-1] if states else None


def kill(config, name: str) -> None:
    """SIGKILL a local stack service with its children, as a crash would (no clean shutdown)."""
    import os
    import signal

    import psutil

    from feedline.local import stack

    pid = stack._read_pid(config, name)
    os.killpg(pid, signal.SIGKILL)
    psutil.Process(pid).wait(timeout=10)
