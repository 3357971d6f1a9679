"""What landed where: a plain-text report read back from the (emulated) BigQuery and GCS."""

from __future__ import annotations

import hashlib
from typing import Any, Iterable

from feedline.contract import tables
from feedline.orchestrate import sql
from feedline.contract.model import Contract
from feedline.local.provision import bigquery_client, storage_client
from feedline.settings import Settings


def table(headers: list[str], rows: Iterable[Iterable[Any]]) -> str:
    rows = [["" if v is None else str(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _query(client, statement: str) -> list[tuple]:
    return [tuple(row.values()) for row in client.query(statement).result()]


def fingerprint(client, table: str) -> str:
    """Short hash of a table's whole content, order-independent: equal across demo runs."""
    lines = sorted(repr(row) for row in _query(client, f"SELECT * FROM `{table}`"))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:12]


def feed_section(client, settings: Settings, contract: Contract) -> str:
    p = sql.template_params(settings, contract)
    staging = _query(client, f"SELECT COUNT(*) FROM `{p['staging_table']}`")[0][0]
    raw = _query(client, f"SELECT COUNT(*), COUNT(DISTINCT _batch_id) FROM `{p['raw_table']}`")[0]
    reasons = _query(
        client,
        f"SELECT reason, COUNT(*) AS n FROM `{p['deadletter_table']}` GROUP BY reason ORDER BY n DESC, reason",
    )
    audit = _query(
        client,
        f"SELECT batch_id, attempt, source_file, status, rows_read, rows_loaded, rows_deadletter, "
        f"ROUND(deadletter_share, 4), reason FROM `{p['audit_table']}` ORDER BY recorded_at, source_file",
    )
    parts = [
        f"### Feed {contract.feed}",
        f"staging {p['staging_table']}: {staging} rows (one per {', '.join(contract.key)}); "
        f"raw history: {raw[0]} rows from {raw[1]} batch(es)",
        f"content fingerprints: staging {fingerprint(client, p['staging_table'])}, reporting "
        + ", ".join(fingerprint(client, v) for v in p["reporting_views"]),
        "",
        f"deadletter {p['deadletter_table']}, by reason (all batches):",
        table(["reason", "rows"], reasons) if reasons else "(none)",
        "",
        f"audit {p['audit_table']} (one row per file per attempt):",
        table(["batch", "attempt", "file", "status", "read", "loaded", "deadletter", "share", "reason"], audit),
    ]
    for view in contract.reporting:
        ref = sql.reporting_view_ref(settings, view)
        rows = client.query(f"SELECT * FROM `{ref}` ORDER BY 1, 2 LIMIT 20").result()
        headers = [f.name for f in rows.schema]
        parts += ["", f"reporting {ref}:", table(headers, [tuple(r.values()) for r in rows])]
    return "\n".join(parts)


def buckets_section(settings: Settings) -> str:
    gcs = storage_client(settings.project)
    lines = ["### Files"]
    for label, bucket in (
        ("landing (waiting)", settings.landing_bucket),
        ("archive", settings.archive_bucket),
        ("quarantine", settings.quarantine_bucket),
    ):
        blobs = [b for b in gcs.list_blobs(bucket) if not b.name.endswith("/")]
        lines.append(f"gs://{bucket} [{label}]: {len(blobs)} object(s)")
        for blob in blobs[-12:]:
            reason = (blob.metadata or {}).get("feedline-quarantine-reason")
            lines.append(f"   {blob.name}" + (f"  <- {reason}" if reason else ""))
    return "\n".join(lines)


def alerts_section(alerts: list[dict]) -> str:
    lines = [f"### Slack alerts received by the local webhook during this run: {len(alerts)}"]
    for alert in alerts:
        text = str(alert["payload"].get("text", ""))
        lines.append("- " + text.replace("\n", "\n  "))
    return "\n".join(lines)


def render(settings: Settings, contracts: dict[str, Contract], alerts: list[dict]) -> str:
    client = bigquery_client(settings.project)
    sections = [feed_section(client, settings, c) for c in contracts.values()]
    datasets = ", ".join(tables.dataset_names().values())
    return "\n\n".join(
        [f"=== What landed where (project {settings.project}; datasets {datasets})", *sections,
         buckets_section(settings), alerts_section(alerts)]
    )
