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


def counts(rows_read: int, rows_deadletter: int) -> dict:
    return {"rows_read": rows_read, "rows_deadletter": rows_deadletter, "share": rows_deadletter / rows_read}


def batch(rows_read: int, rows_deadletter: int, reasons) -> dict:
    return {**counts(rows_read, rows_deadletter), "reasons": reasons}


def test_deadletter_text_when_the_batch_goes_on():
    report = batch(400, 50, [("bad amount", 30), ("x", 20)])
    text = alerts.deadletter_text("transactions", "b_2", report, 0.05, "warn", True, {})
    assert text == (
        ":large_orange_circle: Feedline *transactions*: deadletter share 12.50% in batch `b_2` "
        "is above the feed's threshold 5.00% (50 of 400 rows); the batch goes on.\n"
        "Top reasons:\n"
        "• bad amount: 30\n"
        "• x: 20"
    )


def test_deadletter_text_when_the_batch_is_stopped():
    text = alerts.deadletter_text("transactions", "b_3", batch(10, 2, [("short row", 2)]), 0.1, "fail", True, {})
    assert text.splitlines()[0].endswith("(2 of 10 rows); the batch is stopped before staging.")
    assert "the batch goes on" not in text


def test_deadletter_text_names_each_file_above_the_threshold_with_its_share_and_the_batchs():
    files = {"b.csv": counts(40, 20), "a `x`.csv": counts(10, 1)}
    text = alerts.deadletter_text("customers", "b_4", batch(1000, 23, [("bad email", 23)]), 0.05, "warn", False, files)
    assert text == (
        ":large_orange_circle: Feedline *customers*: deadletter share of 2 file(s) in batch `b_4` is above the "
        "feed's threshold 5.00% (batch: 2.30% (23 of 1000 rows)); the batch goes on.\n"
        "Files above the threshold:\n"
        "• `b.csv`: 50.00% (20 of 40 rows)\n"  # in the order given (audit: highest share first)
        '• "a `x`.csv": 10.00% (1 of 10 rows)\n'  # a backtick would end the code span: JSON-quoted
        "Top reasons:\n"
        "• bad email: 23"
    )


def test_deadletter_text_lists_at_most_twenty_files_and_counts_the_rest():
    files = {f"f{i:02d}.csv": counts(10, 5) for i in range(23)}
    lines = alerts.deadletter_text("t", "b", batch(230, 115, []), 0.1, "warn", True, files).splitlines()
    assert lines[1] == "Files above the threshold:"
    assert lines[2:22] == [f"• `f{i:02d}.csv`: 50.00% (5 of 10 rows)" for i in range(20)]
    assert lines[22] == "• … and 3 more file(s)"


def test_deadletter_text_shows_the_top_ten_reasons_only():
    reasons = ((f"reason {i:02d}", 100 - i) for i in range(15))  # any iterable, e.g. a generator
    lines = alerts.deadletter_text("t", "b", batch(2000, 1000, reasons), 0.1, "warn", True, {}).splitlines()
    assert lines[1] == "Top reasons:"
    assert lines[2:] == [f"• reason {i:02d}: {100 - i}" for i in range(10)]


def test_dry_run_text_names_the_files_above_the_threshold():
    report = {**batch(1000, 23, [("bad", 23)]), "rows_loaded": 977, "files": {"a.csv": "loaded", "b.csv": "loaded",
              "q.csv": "quarantined"}, "quarantined": {"q.csv": "bad header"}}
    text = alerts.dry_run_text("customers", "b_5", report, False, {"b.csv": counts(40, 20)})
    assert text == (
        ":test_tube: Feedline *customers* dry run `b_5`: 3 file(s), 1000 rows read, 977 valid, 23 deadlettered "
        "(share 2.30%). Nothing was published; the files stay in landing.\n"
        "• `q.csv`: quarantine (bad header)\n"
        "Files above the threshold:\n"
        "• `b.csv`: 50.00% (20 of 40 rows)\n"
        "Top reasons:\n"
        "• bad: 23"
    )
    assert "above the threshold)" in alerts.dry_run_text("customers", "b_5", report, True, {})


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


def test_drift_text_says_what_each_file_got_with_the_names_quoted():
    text = alerts.drift_text("customers", "b_1", {
        "a.csv": {"added": ["tier"], "nulled": ["signup_date"]},
        "b`.csv": {"ignored": ["Note, 2", 'x"y']},
    })
    assert text == (
        ":large_blue_circle: Feedline *customers*: the header of 2 file(s) in batch `b_1` differs from the "
        "contract; loaded as its schema_drift says:\n"
        '• `a.csv`: added to raw and staging as NULLABLE STRING: "tier"; missing, loaded as NULL: "signup_date"\n'
        '• "b`.csv": ignored (loaded nowhere): "Note, 2", "x\\"y"'
    )


def test_duplicates_text_says_how_many_were_skipped_and_where_each_was_first_ingested():
    first = {"batch_id": "sweep_1", "source_file": "customers_1.csv", "checksum": "md5:AA"}
    text = alerts.duplicates_text("customers", "sweep_2", {"customers_2.csv": first, "customers_1.csv": first})
    assert "2 duplicate file(s) skipped, first ingested in batch `sweep_1`" in text
    assert "batch `sweep_2`: not validated or loaded again, archived" in text and "force_reingest" in text
    assert text.splitlines()[1:] == ["• `customers_1.csv`: same content as `customers_1.csv` of batch `sweep_1`",
                                     "• `customers_2.csv`: same content as `customers_1.csv` of batch `sweep_1`"]
    dry = alerts.duplicates_text("customers", "dry_1", {"a.csv": first, "b.csv": {**first, "batch_id": "sweep_0"}}, True)
    assert "first ingested in batch `sweep_0`, `sweep_1`" in dry and "a dry run: left in landing" in dry


def test_duplicates_text_lists_at_most_twenty_files():
    first = {"batch_id": "b", "source_file": "x.csv", "checksum": "md5:AA"}
    text = alerts.duplicates_text("customers", "b2", {f"f{i:02d}.csv": first for i in range(25)})
    assert len(text.splitlines()) == 1 + 20 + 1 and text.endswith("… and 5 more file(s)")


def test_duplicates_text_says_which_repeats_go_back_to_quarantine():
    text = alerts.duplicates_text("customers", "b2", {
        "ok.csv": {"batch_id": "b1", "source_file": "ok.csv", "status": "loaded"},
        "bad.csv": {"batch_id": "b1", "source_file": "bad.csv", "status": "quarantined"},
    })
    assert "archived, or quarantined again where the first was" in text
    assert text.splitlines()[1:] == ["• `bad.csv`: same content as `bad.csv` of batch `b1` (quarantined there)",
                                     "• `ok.csv`: same content as `ok.csv` of batch `b1`"]
