"""Texts of Feedline's Slack messages and run notes. Pure functions, so tests read exactly what is sent."""

from __future__ import annotations

import json
from typing import Iterable

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


def deadletter_text(
    feed: str,
    batch_id: str,
    share: float,
    threshold: float,
    on_exceed: str,
    rows_read: int,
    rows_deadletter: int,
    reasons: Iterable[tuple[str, int]],
) -> str:
    action = "the batch is stopped before staging" if on_exceed == "fail" else "the batch goes on"
    lines = [
        f":large_orange_circle: Feedline *{feed}*: deadletter share {share:.2%} in batch `{batch_id}` "
        f"is above the feed's threshold {threshold:.2%} ({rows_deadletter} of {rows_read} rows); {action}.",
        "Top reasons:",
    ]
    lines += [f"• {reason}: {count}" for reason, count in list(reasons)[:10]]
    return "\n".join(lines)


def taken_text(feed: str, taken: dict[str, list[str]]) -> str:
    """Why a run did not get files it asked for: the batches that took each (none: not found)."""
    parts = [
        f"{name} was taken by batch {', '.join(batches)}" if batches else f"{name} is in no landing, "
        "processing, archive or quarantine place (never landed, or deleted)"
        for name, batches in sorted(taken.items())
    ]
    return f"{feed}: requested file(s) no longer in landing: " + "; ".join(parts)


def dry_run_text(feed: str, batch_id: str, report: dict, above_threshold: bool) -> str:
    """What a dry run found, in one message (it replaces the batch's other alerts: nothing was
    published, quarantined or stopped)."""
    files = report["files"]
    lines = [
        f":test_tube: Feedline *{feed}* dry run `{batch_id}`: {len(files)} file(s), "
        f"{report['rows_read']} rows read, {report['rows_loaded']} valid, {report['rows_deadletter']} deadlettered "
        f"(share {report['share']:.2%}{', above the threshold' if above_threshold else ''}). Nothing was published; "
        "the files stay in landing.",
    ]
    lines += [f"• `{name}`: quarantine ({reason})" for name, reason in sorted(report["quarantined"].items())]
    lines += [f"• {reason}: {count}" for reason, count in list(report["reasons"])[:10]]
    return "\n".join(lines)
