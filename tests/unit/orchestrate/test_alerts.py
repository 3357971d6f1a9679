"""The Slack texts, exactly as they are sent."""

from __future__ import annotations

import jinja2

from feedline.orchestrate import alerts


def test_quarantine_text_lists_every_file_sorted_with_its_reason():
    text = alerts.quarantine_text(
        "customers", "b_1", {"z.csv": "header does not match", "a.csv": "file name has no date"}
    )
    assert text == (
        ":warning: Feedline *customers*: 2 file(s) quarantined in batch `b_1`:\n"
        "• `a.csv`: file name has no date\n"
        "• `z.csv`: header does not match"
    )


def test_deadletter_text_when_the_batch_goes_on():
    text = alerts.deadletter_text("transactions", "b_2", 0.125, 0.05, "warn", 400, 50, [("bad amount", 30), ("x", 20)])
    assert text == (
        ":large_orange_circle: Feedline *transactions*: deadletter share 12.50% in batch `b_2` "
        "is above the feed's threshold 5.00% (50 of 400 rows); the batch goes on.\n"
        "Top reasons:\n"
        "• bad amount: 30\n"
        "• x: 20"
    )


def test_deadletter_text_when_the_batch_is_stopped():
    text = alerts.deadletter_text("transactions", "b_3", 0.2, 0.1, "fail", 10, 2, [("short row", 2)])
    assert text.splitlines()[0].endswith("(2 of 10 rows); the batch is stopped before staging.")
    assert "the batch goes on" not in text


def test_deadletter_text_shows_the_top_ten_reasons_only():
    reasons = ((f"reason {i:02d}", 100 - i) for i in range(15))  # any iterable, e.g. a generator
    lines = alerts.deadletter_text("t", "b", 0.5, 0.1, "warn", 2000, 1000, reasons).splitlines()
    assert lines[1] == "Top reasons:"
    assert lines[2:] == [f"• reason {i:02d}: {100 - i}" for i in range(10)]


def test_task_failed_template_renders_the_task_run_and_a_truncated_error():
    class TI:
        task_id, try_number, log_url = "check_batch", 2, "http://airflow/log"

    class Dag:
        dag_id = "feedline_transactions"

    text = jinja2.Environment().from_string(alerts.TASK_FAILED).render(
        dag=Dag, ti=TI, run_id="manual__1", exception=ValueError("x" * 400)
    )
    first, error, log = text.splitlines()
    assert first == ":red_circle: Feedline task failed: *feedline_transactions.check_batch* (run `manual__1`, try 2)."
    assert error.startswith("Error: xxx") and len(error) < len("Error: ") + 310 and error.endswith("...")
    assert log == "Log: http://airflow/log"


def test_taken_text_names_each_files_batches_or_says_it_was_found_nowhere():
    text = alerts.taken_text("customers", {"b.csv": [], "a.csv": ["sweep_1", "sweep_2"]})
    assert text == (
        "customers: requested file(s) no longer in landing: a.csv was taken by batch sweep_1, sweep_2; "
        "b.csv is in no landing, processing, archive or quarantine place (never landed, or deleted)"
    )


def test_deadline_text_renders_the_run_and_the_deadline_from_the_triggerers_context():
    context = {"dag_run": {"dag_run_id": "manual__1", "queued_at": "2026-11-27T08:00:00Z", "state": "running"},
               "deadline": {"deadline_time": "2026-11-27 10:00:00+00:00"}}
    text = jinja2.Template(alerts.deadline_text("transactions", 120)).render(context)
    assert text == (
        ":alarm_clock: Feedline *transactions*: run `manual__1` has not published its batch to staging within "
        "the feed's deadline of 120 minutes (queued at 2026-11-27T08:00:00Z, due by 2026-11-27 10:00:00+00:00); "
        "it is still running or has failed. Run state: running."
    )


def test_names_that_would_break_a_code_span_are_json_quoted():
    text = alerts.quarantine_text("customers", "b_1", {"a`b; DROP TABLE t.csv": "misnamed", "tab\there.csv": "misnamed",
                                                       "😀 é.csv": "misnamed"})
    assert '• "a`b; DROP TABLE t.csv": misnamed' in text
    assert '• "tab\\there.csv": misnamed' in text
    assert "• `😀 é.csv`: misnamed" in text
