"""A batch's audit: its rows read back from BigQuery, and the report check_batch acts on.

:func:`inspect_batch` runs the three queries in ``sql/audit/`` (identifiers rendered by the
same Jinja as the DAG's templates; every value a query parameter); :func:`batch_report` turns
their rows into the report (pure). The remaining functions say what the report means: the log
line the monitoring parses, the alerts to send, and why the batch must fail, each on its own so
check_batch logs, alerts and fails in separate steps. No Airflow imports.
"""

from __future__ import annotations

import json
from typing import Any

from feedline.contract.model import Contract
from feedline.orchestrate import alerts, bq_calls, sql
from feedline.settings import Settings

# No valid rows: the MERGE's source is empty anyway, any day will do.
EMPTY_DAY = "1970-01-01"
# Files named in a failure message (Airflow's failure alert shows its first 300 characters).
MAX_FILES_NAMED = 5
AUDIT_QUERIES = ("audit/batch_files.sql", "audit/deadletter_reasons.sql", "audit/partition_span.sql")


def audit_statements(settings: Settings, contract: Contract, batch_id: str) -> dict[str, str]:
    """The audit queries for one batch of the feed (its own load tables), by template name."""
    identifiers = sql.template_params(settings, contract)
    load_tables = sql.load_tables(settings, contract, batch_id)
    return {
        template: sql.render(settings, template, params=identifiers, load_tables=load_tables)
        for template in AUDIT_QUERIES
    }


def inspect_batch(
    client, settings: Settings, contract: Contract, batch_id: str, attempt: int, ingested_at: str
) -> dict[str, Any]:
    """The batch's audit rows read back from BigQuery, with totals, reasons and partition range.

    ``client`` is a google.cloud.bigquery.Client (BigQueryHook's, in the DAG)."""
    from google.cloud import bigquery

    scalar = bigquery.ScalarQueryParameter
    batch_config = bigquery.QueryJobConfig(
        query_parameters=[
            scalar("batch_id", "STRING", batch_id),
            scalar("attempt", "INT64", attempt),
            scalar("ingested_at", "TIMESTAMP", ingested_at),
        ]
    )
    statements = audit_statements(settings, contract, batch_id)

    def rows(template: str, config=batch_config) -> list[dict[str, Any]]:
        return bq_calls.query_rows(client, statements[template], config)

    files, reasons, span = (
        rows("audit/batch_files.sql"),
        rows("audit/deadletter_reasons.sql"),
        rows("audit/partition_span.sql", config=None),  # no parameters: BigQuery refuses unused ones
    )
    return batch_report(files, reasons, span[0])


def share(rows_deadletter: int, rows_read: int) -> float:
    return rows_deadletter / rows_read if rows_read else 0.0


def batch_report(files: list[dict], reasons: list[dict], span: dict) -> dict[str, Any]:
    """The report from the audit rows (one per file), the deadletter reasons and the span."""
    loaded = [a for a in files if a["status"] == "loaded"]
    rows_read = sum(a["rows_read"] for a in loaded)
    rows_deadletter = sum(a["rows_deadletter"] for a in loaded)
    rows_loaded = sum(a["rows_loaded"] for a in loaded)
    return {
        "files": {a["source_file"]: a["status"] for a in files},
        "quarantined": {a["source_file"]: a["reason"] for a in files if a["status"] == "quarantined"},
        "lost": {
            a["source_file"]: a["rows_read"] - a["rows_loaded"] - a["rows_deadletter"]
            for a in loaded
            if a["rows_read"] != a["rows_loaded"] + a["rows_deadletter"]
        },
        "rows_read": rows_read,
        "rows_deadletter": rows_deadletter,
        "rows_loaded": rows_loaded,
        "share": share(rows_deadletter, rows_read),
        # Per accepted file: one bad file must not hide behind a batch of clean ones.
        "file_shares": {
            a["source_file"]: {
                "rows_read": a["rows_read"],
                "rows_deadletter": a["rows_deadletter"],
                "share": share(a["rows_deadletter"], a["rows_read"]),
            }
            for a in loaded
        },
        "reasons": [(r["reason"], r["n"]) for r in reasons],
        "drift": header_drift(loaded),
        "partition_min": str(span["partition_min"] or EMPTY_DAY),
        "partition_max": str(span["partition_max"] or EMPTY_DAY),
    }


# The audit's schema_drift columns (JSON arrays of names) -> the report's keys for them.
DRIFT_COLUMNS = {"columns_added": "added", "columns_ignored": "ignored", "columns_nulled": "nulled"}


def header_drift(files: list[dict]) -> dict[str, dict[str, list[str]]]:
    """Per loaded file whose header differed from the contract: the columns added, ignored and
    loaded as NULL (only the non-empty ones), by file name."""
    drift = {}
    for a in files:
        found = {key: json.loads(a[column]) for column, key in DRIFT_COLUMNS.items() if a.get(column)}
        if found:
            drift[a["source_file"]] = found
    return dict(sorted(drift.items()))


def audit_line(feed: str, batch_id: str, report: dict[str, Any]) -> str:
    """Parsed by the log-based metrics and alerts in terraform/modules/monitoring."""
    return (
        f"feedline_audit feed={feed} batch_id={batch_id} rows_read={report['rows_read']:d} "
        f"rows_loaded={report['rows_loaded']:d} rows_deadletter={report['rows_deadletter']:d} "
        f"deadletter_share={report['share']:.6f}"
    )


def lost_rows_error(report: dict[str, Any]) -> str | None:
    """Why the batch must stop before anything else: rows read that never reached BigQuery."""
    return f"rows lost between Beam and BigQuery: {report['lost']}" if report["lost"] else None


def batch_above_threshold(contract: Contract, report: dict[str, Any]) -> bool:
    return bool(report["rows_read"]) and report["share"] > contract.deadletter_threshold


def files_above_threshold(contract: Contract, report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The accepted files whose own deadletter share is above the feed's threshold (their
    report["file_shares"] entries), highest share first, then by name."""
    above = [
        (name, counts)
        for name, counts in report["file_shares"].items()
        if counts["rows_read"] and counts["share"] > contract.deadletter_threshold
    ]
    return dict(sorted(above, key=lambda item: (-item[1]["share"], item[0])))


def exceeds_threshold(contract: Contract, report: dict[str, Any]) -> bool:
    """The contract's threshold action applies: the batch's share or any file's is above it."""
    return batch_above_threshold(contract, report) or bool(files_above_threshold(contract, report))


def alert_texts(contract: Contract, batch_id: str, report: dict[str, Any]) -> list[str]:
    """The Slack messages the batch calls for: quarantined files, files loaded although their
    header differs from the contract (schema_drift), then a deadletter share above the feed's
    threshold (the batch's or any file's)."""
    texts = []
    if report["quarantined"]:
        texts.append(alerts.quarantine_text(contract.feed, batch_id, report["quarantined"]))
    if report.get("drift"):
        texts.append(alerts.drift_text(contract.feed, batch_id, report["drift"]))
    if exceeds_threshold(contract, report):
        texts.append(
            alerts.deadletter_text(
                contract.feed, batch_id, report, contract.deadletter_threshold, contract.on_exceed,
                batch_above_threshold(contract, report), files_above_threshold(contract, report),
            )
        )
    return texts


def threshold_error(contract: Contract, report: dict[str, Any]) -> str | None:
    """Why the batch must stop before staging: a share above a threshold that says fail."""
    if contract.on_exceed != "fail" or not exceeds_threshold(contract, report):
        return None
    files = files_above_threshold(contract, report)
    shown = ", ".join(f"{name} {counts['share']:.2%}" for name, counts in list(files.items())[:MAX_FILES_NAMED])
    more = f" and {len(files) - MAX_FILES_NAMED} more" if len(files) > MAX_FILES_NAMED else ""
    if batch_above_threshold(contract, report):
        text = f"deadletter share {report['share']:.2%} is above {contract.deadletter_threshold:.2%}"
        return f"{text}; files above it: {shown}{more}" if files else text
    return (
        f"deadletter share above {contract.deadletter_threshold:.2%} in {len(files)} file(s) "
        f"(batch: {report['share']:.2%}): {shown}{more}"
    )


def reconcile(client, settings: Settings, contract: Contract, batch_id: str | None = None) -> dict[str, Any]:
    """What ``feedline audit`` checks in the tables themselves, not the load tables: per batch
    and file, rows read = rows in raw + rows in deadletter and equal to the audit's counts, and
    one staging row per key. Returns {"files": [...], "duplicate_keys": [...], "problems": [...]}."""
    from google.cloud import bigquery

    identifiers = sql.template_params(settings, contract)
    by_batch = bigquery.QueryJobConfig(query_parameters=[bigquery.ScalarQueryParameter("batch_id", "STRING", batch_id)])

    def rows(template: str, config=None) -> list[dict[str, Any]]:
        statement = sql.render(settings, template, params=identifiers)
        return bq_calls.query_rows(client, statement, config)

    files = rows("audit/reconcile_files.sql", by_batch)
    duplicates = rows("audit/staging_duplicate_keys.sql")
    return {"files": files, "duplicate_keys": duplicates,
            "problems": reconciliation_problems(contract, files, duplicates)}


def reconciliation_problems(contract: Contract, files: list[dict], duplicates: list[dict]) -> list[str]:
    """Each mismatch in words, with the counts (pure)."""
    problems = []
    for f in files:
        where = f"batch {f['batch_id']} file {f['source_file']!r}"
        raw, deadletter = f["raw_rows"], f["deadletter_rows"]
        if f["status"] is None:
            problems.append(f"{where}: {raw} raw and {deadletter} deadletter rows but no audit row")
        elif f["status"] in ("quarantined", "duplicate"):  # no rows of its own in either table
            if raw or deadletter:
                problems.append(f"{where}: {f['status']}, yet {raw} raw and {deadletter} deadletter rows")
        elif (f["rows_loaded"], f["rows_deadletter"]) != (raw, deadletter) or f["rows_read"] != raw + deadletter:
            problems.append(
                f"{where}: audit says read {f['rows_read']} = loaded {f['rows_loaded']} + deadletter "
                f"{f['rows_deadletter']}; the tables hold {raw} raw + {deadletter} deadletter"
            )
    for d in duplicates:
        key = ", ".join(f"{k}={d[k]!r}" for k in contract.key)
        problems.append(f"staging holds {d['copies']} rows for key {key}")
    return problems


# Repeated files: a claimed file whose content (claims.content_checksum) an earlier batch of the
# feed ingested is archived with a 'duplicate' audit row instead of being validated again.
INGESTED_CHECKSUMS_SQL = "audit/ingested_checksums.sql"
RECORD_DUPLICATE_SQL = "audit/record_duplicate.sql"
RECORD_CHECKSUMS_SQL = "audit/record_checksums.sql"


def ingested_before(client, settings: Settings, contract: Contract, batch_id: str, checksums: list[str]) -> dict[str, dict]:
    """checksum -> {"batch_id", "source_file", "status", "reason"} of the batch that first
    ingested that content (never ``batch_id`` itself), for the checksums some earlier batch
    ingested: status 'loaded', or 'quarantined' with its reason."""
    from google.cloud import bigquery

    if not checksums:
        return {}
    statement = sql.render(settings, INGESTED_CHECKSUMS_SQL, params=sql.template_params(settings, contract))
    config = bigquery.QueryJobConfig(query_parameters=[
        bigquery.ArrayQueryParameter("checksums", "STRING", sorted(set(checksums))),
        bigquery.ScalarQueryParameter("batch_id", "STRING", batch_id),
    ])
    return {
        r["checksum"]: {"batch_id": r["batch_id"], "source_file": r["source_file"], "status": r["status"],
                        "reason": r["reason"]}
        for r in bq_calls.query_rows(client, statement, config)
    }


def duplicate_files(checksums: dict[str, str | None], ingested: dict[str, dict]) -> dict[str, dict]:
    """Claimed file name -> {"checksum", "batch_id", "source_file"} (the first ingestion) for
    the files whose content was ingested before; ``checksums`` is name -> checksum. Pure."""
    return {
        name: {"checksum": checksum, **ingested[checksum]}
        for name, checksum in sorted(checksums.items())
        if checksum in ingested
    }


def duplicate_reason(first: dict) -> str:
    if first.get("status") == "quarantined":
        return (f"same content as {first['source_file']!r}, quarantined in batch {first['batch_id']}: "
                f"{first.get('reason')} (force_reingest validates it again)")
    return f"same content as {first['source_file']!r}, ingested in batch {first['batch_id']}"


def quarantined_again(duplicates: dict[str, dict]) -> dict[str, str]:
    """Duplicates of a quarantined file go back to quarantine, with why (name -> reason): a
    repeat of bad bytes is not validated again either."""
    return {name: duplicate_reason(first) for name, first in duplicates.items() if first.get("status") == "quarantined"}


def record_duplicates(
    client, settings: Settings, contract: Contract, batch_id: str, attempt: int, dag_run_id: str,
    duplicates: dict[str, dict], dry_run: bool,
) -> None:
    """A 'duplicate' audit row per file of ``duplicates`` (duplicate_files' result)."""
    from google.cloud import bigquery

    statement = sql.render(settings, RECORD_DUPLICATE_SQL, params=sql.template_params(settings, contract))
    scalar = bigquery.ScalarQueryParameter
    for name, first in sorted(duplicates.items()):
        config = bigquery.QueryJobConfig(query_parameters=[
            scalar("batch_id", "STRING", batch_id), scalar("attempt", "INT64", attempt),
            scalar("dag_run_id", "STRING", dag_run_id), scalar("source_file", "STRING", name),
            scalar("checksum", "STRING", first["checksum"]), scalar("duplicate_of", "STRING", first["batch_id"]),
            scalar("reason", "STRING", duplicate_reason(first)), scalar("dry_run", "BOOL", dry_run),
        ])
        bq_calls.query_rows(client, statement, config)


def record_checksums(
    client, settings: Settings, contract: Contract, batch_id: str, attempt: int, checksums: dict[str, str | None]
) -> None:
    """The settled files' checksums (name -> checksum) onto the batch attempt's audit rows:
    from now on a repeat of their content is a duplicate (see ingested_before)."""
    from google.cloud import bigquery

    known = {name: checksum for name, checksum in sorted(checksums.items()) if checksum}
    if not known:
        return  # and BigQuery cannot type an empty array of structs
    statement = sql.render(settings, RECORD_CHECKSUMS_SQL, params=sql.template_params(settings, contract))
    scalar = bigquery.ScalarQueryParameter
    files = [
        bigquery.StructQueryParameter(None, scalar("source_file", "STRING", name), scalar("checksum", "STRING", checksum))
        for name, checksum in known.items()
    ]
    config = bigquery.QueryJobConfig(query_parameters=[
        scalar("batch_id", "STRING", batch_id), scalar("attempt", "INT64", attempt),
        bigquery.ArrayQueryParameter("files", "STRUCT", files),
    ])
    bq_calls.query_rows(client, statement, config)
