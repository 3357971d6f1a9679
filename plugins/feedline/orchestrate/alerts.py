"""Texts of Feedline's Slack messages and run notes. Pure functions, so tests read exactly what is sent."""

from __future__ import annotations

import json

# Files named one by one in a threshold alert; the rest are counted (Slack truncates long texts).
MAX_FILES_LISTED = 20

# Rendered by Airflow for every failed task (SlackWebhookNotifier's text is a template).
TASK_FAILED = (
    ":red_circle: Feedline task failed: *{{ dag.dag_id }}.{{ ti.task_id }}* "
    "(run `{{ run_id }}`, try {{ ti.try_number }}).\n"
    "Error: {{ exception | string | truncate(300) }}\n"
    "Log: {{ ti.log_url }}"
)


def deadline_text(feed: str, minutes: float) -> str:
    """The deadline alert, rendered by Airflow in the triggerer: its context has the run
    (``dag_run``, the REST API's DAG run fields) and ``deadline`` (``deadline_time``)."""
    return (
        f":alarm_clock: Feedline *{feed}*: run `{{{{ dag_run.dag_run_id }}}}` has not published its batch "
        f"to staging within the feed's deadline of {minutes:g} minutes (queued at {{{{ dag_run.queued_at }}}}, "
        f"due by {{{{ deadline.deadline_time }}}}); it is still running or has failed. "
        f"Run state: {{{{ dag_run.state }}}}."
    )


def shown(name: str) -> str:
    """A file name in a message: as code, or JSON-quoted when it holds what would break the
    message (a backtick ends Slack's code span; control characters), so it reads exactly."""
    if "`" in name or not name.isprintable():
        return json.dumps(name, ensure_ascii=False)
    return f"`{name}`"


def quarantine_text(feed: str, batch_id: str, quarantined: dict[str, str]) -> str:
    lines = [f":warning: Feedline *{feed}*: {len(quarantined)} file(s) quarantined in batch `{batch_id}`:"]
    lines += [f"• {shown(name)}: {reason}" for name, reason in sorted(quarantined.items())]
    return "\n".join(lines)


# What each schema_drift outcome did, as the alert says it (audit.header_drift's keys).
DRIFT_ACTIONS = {
    "added": "added to raw and staging as NULLABLE STRING",
    "ignored": "ignored (loaded nowhere)",
    "nulled": "missing, loaded as NULL",
}


def drift_lines(drift: dict[str, dict[str, list[str]]]) -> list[str]:
    """One bullet per file: each outcome and its columns (names JSON-quoted: a header may hold anything)."""
    lines = []
    for name, outcomes in sorted(drift.items())[:MAX_FILES_LISTED]:
        parts = [f"{DRIFT_ACTIONS[key]}: {', '.join(json.dumps(c, ensure_ascii=False) for c in columns)}"
                 for key, columns in outcomes.items() if columns]
        lines.append(f"• {shown(name)}: {'; '.join(parts)}")
    if len(drift) > MAX_FILES_LISTED:
        lines.append(f"• … and {len(drift) - MAX_FILES_LISTED} more file(s)")
    return lines


def drift_text(feed: str, batch_id: str, drift: dict[str, dict[str, list[str]]]) -> str:
    """Files loaded although their header differs from the contract, as its schema_drift allows."""
    lines = [f":large_blue_circle: Feedline *{feed}*: the header of {len(drift)} file(s) in batch `{batch_id}` "
             "differs from the contract; loaded as its schema_drift says:"]
    return "\n".join(lines + drift_lines(drift))


def duplicates_text(feed: str, batch_id: str, duplicates: dict[str, dict], dry_run: bool = False) -> str:
    """The repeated files a claim set aside (audit.duplicate_files: name -> first ingestion)."""
    batches = ", ".join(f"`{b}`" for b in sorted({first["batch_id"] for first in duplicates.values()}))
    bad = {name for name, first in duplicates.items() if first.get("status") == "quarantined"}
    kept = "a dry run: left in landing" if dry_run else "archived, or quarantined again where the first was" if bad else "archived"
    lines = [
        f":information_source: Feedline *{feed}*: {len(duplicates)} duplicate file(s) skipped, first ingested "
        f"in batch {batches} (batch `{batch_id}`: not validated or loaded again, {kept}; "
        "`force_reingest: true` ingests them anyway):"
    ]
    listed = sorted(duplicates.items())[:MAX_FILES_LISTED]
    lines += [f"• {shown(name)}: same content as {shown(first['source_file'])} of batch `{first['batch_id']}`"
              + (" (quarantined there)" if name in bad else "") for name, first in listed]
    if len(duplicates) > MAX_FILES_LISTED:
        lines.append(f"• … and {len(duplicates) - MAX_FILES_LISTED} more file(s)")
    return "\n".join(lines)


def rows_share(counts: dict) -> str:
    """'12.50% (50 of 400 rows)' from a share and its counts (a file's or the batch's)."""
    return f"{counts['share']:.2%} ({counts['rows_deadletter']} of {counts['rows_read']} rows)"


def file_share_lines(files_above: dict[str, dict]) -> list[str]:
    """One bullet per file above the threshold, in the order given, at most MAX_FILES_LISTED."""
    lines = [f"• {shown(name)}: {rows_share(counts)}" for name, counts in list(files_above.items())[:MAX_FILES_LISTED]]
    if len(files_above) > MAX_FILES_LISTED:
        lines.append(f"• … and {len(files_above) - MAX_FILES_LISTED} more file(s)")
    return lines


def deadletter_text(
    feed: str,
    batch_id: str,
    report: dict,
    threshold: float,
    on_exceed: str,
    batch_above: bool,
    files_above: dict[str, dict],
) -> str:
    """The threshold alert: the batch's share, and each file whose own share is above the
    threshold (``files_above``: name -> rows_read, rows_deadletter, share)."""
    action = "the batch is stopped before staging" if on_exceed == "fail" else "the batch goes on"
    if batch_above:
        head = (
            f"deadletter share {report['share']:.2%} in batch `{batch_id}` is above the feed's threshold "
            f"{threshold:.2%} ({report['rows_deadletter']} of {report['rows_read']} rows)"
        )
    else:
        head = (
            f"deadletter share of {len(files_above)} file(s) in batch `{batch_id}` is above the feed's "
            f"threshold {threshold:.2%} (batch: {rows_share(report)})"
        )
    lines = [f":large_orange_circle: Feedline *{feed}*: {head}; {action}."]
    if files_above:
        lines += ["Files above the threshold:", *file_share_lines(files_above)]
    lines.append("Top reasons:")
    lines += [f"• {reason}: {count}" for reason, count in list(report["reasons"])[:10]]
    return "\n".join(lines)


def taken_text(feed: str, taken: dict[str, list[str]]) -> str:
    """Why a run did not get files it asked for: the batches that took each (none: not found)."""
    parts = [
        f"{name} was taken by batch {', '.join(batches)}" if batches else f"{name} is in no landing, "
        "processing, archive or quarantine place (never landed, or deleted)"
        for name, batches in sorted(taken.items())
    ]
    return f"{feed}: requested file(s) no longer in landing: " + "; ".join(parts)


def dry_run_text(feed: str, batch_id: str, report: dict, above_threshold: bool, files_above: dict[str, dict]) -> str:
    """What a dry run found, in one message (it replaces the batch's other alerts: nothing was
    published, quarantined or stopped). ``files_above``: the files above the threshold."""
    files = report["files"]
    lines = [
        f":test_tube: Feedline *{feed}* dry run `{batch_id}`: {len(files)} file(s), "
        f"{report['rows_read']} rows read, {report['rows_loaded']} valid, {report['rows_deadletter']} deadlettered "
        f"(share {report['share']:.2%}{', above the threshold' if above_threshold else ''}). Nothing was published; "
        "the files stay in landing.",
    ]
    lines += [f"• `{name}`: quarantine ({reason})" for name, reason in sorted(report["quarantined"].items())]
    if files_above:
        lines += ["Files above the threshold:", *file_share_lines(files_above)]
    if report.get("drift"):
        lines += ["Headers that differ from the contract (schema_drift):", *drift_lines(report["drift"])]
    if report["reasons"]:
        lines += ["Top reasons:", *(f"• {reason}: {count}" for reason, count in list(report["reasons"])[:10])]
    return "\n".join(lines)
