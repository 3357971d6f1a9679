"""The batch audit: the queries (identifiers only, values as parameters), the report built
from their rows, and what the report means (log line, alerts, failures)."""

from __future__ import annotations

import dataclasses
import re
from datetime import date, datetime, timezone

import pytest

from feedline.contract.model import load_contracts
from feedline.orchestrate import alerts, audit, sql
from feedline.settings import from_env

SETTINGS = from_env({})
CONTRACTS = load_contracts()
TX = CONTRACTS["transactions"]  # on_exceed: fail
CUSTOMERS = CONTRACTS["customers"]  # on_exceed: warn


def file_row(name, status="loaded", read=10, loaded=9, dead=1, reason=None) -> dict:
    return {"source_file": name, "status": status, "rows_read": read, "rows_loaded": loaded,
            "rows_deadletter": dead, "reason": reason}


FILES = [
    file_row("a.csv", read=100, loaded=90, dead=10),
    file_row("b.csv", read=50, loaded=50, dead=0),
    file_row("c.csv", status="quarantined", read=0, loaded=0, dead=0, reason="header does not match"),
]
REASONS = [{"reason": "bad amount", "n": 7}, {"reason": "short row", "n": 3}]
SPAN = {"partition_min": date(2026, 11, 24), "partition_max": date(2026, 11, 25)}


def test_the_audit_queries_name_the_feeds_tables_and_take_values_as_parameters():
    identifiers = sql.template_params(SETTINGS, TX)
    statements = audit.audit_statements(SETTINGS, TX, "b_1")
    assert sorted(statements) == sorted(audit.AUDIT_QUERIES)
    files = statements["audit/batch_files.sql"]
    assert f"FROM `{identifiers['audit_table']}`" in files
    assert "WHERE batch_id = @batch_id AND attempt = @attempt" in files
    reasons = statements["audit/deadletter_reasons.sql"]
    assert f"FROM `{identifiers['deadletter_table']}`" in reasons
    assert "DATE(_ingested_at) = DATE(@ingested_at) AND _batch_id = @batch_id" in reasons
    assert "ORDER BY n DESC, reason" in reasons
    span = statements["audit/partition_span.sql"]
    # the batch's own summary load table
    assert f"FROM `{sql.load_table_ref(SETTINGS, TX, 'summary', 'b_1')}`" in span and "file_error IS NULL" in span
    assert "feedline_load.transactions_b_1_summary`" in span
    assert "@" not in span
    for text in statements.values():
        assert "{{" not in text and "{%" not in text


def test_batch_report_totals_loaded_files_only():
    report = audit.batch_report(FILES, REASONS, SPAN)
    assert report == {
        "files": {"a.csv": "loaded", "b.csv": "loaded", "c.csv": "quarantined"},
        "quarantined": {"c.csv": "header does not match"},
        "lost": {},
        "rows_read": 150,
        "rows_deadletter": 10,
        "rows_loaded": 140,
        "share": 10 / 150,
        "file_shares": {
            "a.csv": {"rows_read": 100, "rows_deadletter": 10, "share": 0.1},
            "b.csv": {"rows_read": 50, "rows_deadletter": 0, "share": 0.0},
        },
        "reasons": [("bad amount", 7), ("short row", 3)],
        "drift": {},
        "partition_min": "2026-11-24",
        "partition_max": "2026-11-25",
    }


def test_batch_report_finds_lost_rows_and_defaults_an_empty_span():
    files = [file_row("a.csv", read=10, loaded=5, dead=2), file_row("b.csv", read=3, loaded=3, dead=0)]
    report = audit.batch_report(files, [], {"partition_min": None, "partition_max": None})
    assert report["lost"] == {"a.csv": 3}
    assert (report["partition_min"], report["partition_max"]) == (audit.EMPTY_DAY, audit.EMPTY_DAY)
    empty = audit.batch_report([], [], {"partition_min": None, "partition_max": None})
    assert empty["rows_read"] == 0 and empty["share"] == 0.0 and empty["file_shares"] == {}
    header_only = audit.batch_report([file_row("h.csv", read=0, loaded=0, dead=0)], [], SPAN)
    assert header_only["file_shares"] == {"h.csv": {"rows_read": 0, "rows_deadletter": 0, "share": 0.0}}


class FakeClient:
    """Answers the three audit queries in order, recording what was asked."""

    def __init__(self, answers):
        self.answers, self.calls = list(answers), []

    def query(self, statement, job_config=None, **bounds):
        assert bounds["retry"].timeout and bounds["job_retry"] is None  # bq_calls.query_rows' bounds
        self.calls.append((statement, job_config))
        answer = self.answers.pop(0)

        class Job:
            def result(self, retry):
                return answer

        return Job()


def test_inspect_batch_runs_the_three_queries_with_the_batch_as_parameters():
    client = FakeClient([FILES, REASONS, [SPAN]])
    report = audit.inspect_batch(client, SETTINGS, TX, "b_1", 2, "2026-11-27T08:15:00.000000Z")
    assert report == audit.batch_report(FILES, REASONS, SPAN)
    statements = audit.audit_statements(SETTINGS, TX, "b_1")
    assert [c[0] for c in client.calls] == [statements[t] for t in audit.AUDIT_QUERIES]
    parameters = {p.name: (p.type_, p.value) for p in client.calls[0][1].query_parameters}
    assert parameters == {
        "batch_id": ("STRING", "b_1"),
        "attempt": ("INT64", 2),
        "ingested_at": ("TIMESTAMP", datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc)),  # parsed by the library
    }
    assert client.calls[1][1] is client.calls[0][1]
    assert client.calls[2][1] is None  # the span query has no parameters


def test_audit_line_is_what_the_log_based_metrics_parse():
    line = audit.audit_line("transactions", "b_1", audit.batch_report(FILES, REASONS, SPAN))
    assert line == (
        "feedline_audit feed=transactions batch_id=b_1 rows_read=150 rows_loaded=140 rows_deadletter=10 "
        "deadletter_share=0.066667"
    )
    pattern = r"^feedline_audit feed=\w+ batch_id=\w+ rows_read=\d+ rows_loaded=\d+ rows_deadletter=\d+ deadletter_share=[\d.]+$"
    assert re.match(pattern, line)


def test_lost_rows_are_an_error_and_none_is_not():
    assert audit.lost_rows_error({"lost": {}}) is None
    assert audit.lost_rows_error({"lost": {"a.csv": 3}}) == "rows lost between Beam and BigQuery: {'a.csv': 3}"


def report(rows_read=100, rows_deadletter=20, quarantined=None, files=None) -> dict:
    """A batch report as batch_report makes it; ``files``: name -> (rows_read, rows_deadletter),
    by default one file holding the whole batch."""
    files = files if files is not None else {"a.csv": (rows_read, rows_deadletter)}
    rows = [file_row(name, read=read, loaded=read - dead, dead=dead) for name, (read, dead) in files.items()]
    rows += [file_row(name, status="quarantined", read=0, loaded=0, dead=0, reason=reason)
             for name, reason in (quarantined or {}).items()]
    built = audit.batch_report(rows, [{"reason": "bad", "n": rows_deadletter}], SPAN)
    assert (built["rows_read"], built["rows_deadletter"]) == (rows_read, rows_deadletter)
    return built


@pytest.mark.parametrize("on_exceed", ["warn", "fail"])
def test_alerts_for_quarantine_then_threshold(on_exceed):
    contract = dataclasses.replace(TX, deadletter_threshold=0.1, on_exceed=on_exceed)
    r = report(quarantined={"c.csv": "bad header"})
    assert audit.alert_texts(contract, "b_1", r) == [
        alerts.quarantine_text(contract.feed, "b_1", {"c.csv": "bad header"}),
        alerts.deadletter_text(contract.feed, "b_1", r, 0.1, on_exceed, True,
                               {"a.csv": {"rows_read": 100, "rows_deadletter": 20, "share": 0.2}}),
    ]


def test_no_alert_at_or_below_the_threshold_or_without_rows():
    contract = dataclasses.replace(CUSTOMERS, deadletter_threshold=0.2)
    assert audit.alert_texts(contract, "b", report(100, 20)) == []  # equal is not above
    assert audit.alert_texts(contract, "b", report(0, 0)) == []
    assert audit.threshold_error(dataclasses.replace(contract, on_exceed="fail"), report(0, 0)) is None
    header_only = report(0, 0, files={"h.csv": (0, 0)})
    assert not audit.exceeds_threshold(contract, header_only) and audit.files_above_threshold(contract, header_only) == {}


def test_only_a_fail_threshold_fails_the_batch():
    warn = dataclasses.replace(CUSTOMERS, deadletter_threshold=0.1, on_exceed="warn")
    fail = dataclasses.replace(warn, on_exceed="fail")
    assert audit.threshold_error(warn, report(100, 20)) is None
    assert audit.threshold_error(fail, report(100, 20)) == "deadletter share 20.00% is above 10.00%; files above it: a.csv 20.00%"
    assert audit.threshold_error(fail, report(100, 5)) is None


# The case: one file half bad in a batch whose share (2.3%) is under the 5% threshold.
HALF_BAD = {"clean_1.csv": (500, 0), "half_bad.csv": (40, 20), "clean_2.csv": (460, 3)}


def test_one_file_above_the_threshold_in_a_batch_below_it_is_found():
    contract = dataclasses.replace(TX, deadletter_threshold=0.05)
    r = report(1000, 23, files=HALF_BAD)
    assert r["share"] == pytest.approx(0.023)
    assert not audit.batch_above_threshold(contract, r)
    assert audit.files_above_threshold(contract, r) == {"half_bad.csv": {"rows_read": 40, "rows_deadletter": 20, "share": 0.5}}
    assert audit.exceeds_threshold(contract, r)


def test_files_above_the_threshold_are_ordered_by_share_then_name_and_equal_is_not_above():
    contract = dataclasses.replace(TX, deadletter_threshold=0.1)
    r = report(400, 71, files={"b.csv": (100, 30), "a.csv": (100, 30), "c.csv": (100, 1), "d.csv": (100, 10)})
    assert list(audit.files_above_threshold(contract, r)) == ["a.csv", "b.csv"]


@pytest.mark.parametrize("on_exceed", ["warn", "fail"])
def test_a_file_above_the_threshold_alerts_with_its_name_its_share_and_the_batch_share(on_exceed):
    contract = dataclasses.replace(TX, deadletter_threshold=0.05, on_exceed=on_exceed)
    r = report(1000, 23, files=HALF_BAD)
    action = "the batch is stopped before staging" if on_exceed == "fail" else "the batch goes on"
    assert audit.alert_texts(contract, "b_1", r) == [
        ":large_orange_circle: Feedline *transactions*: deadletter share of 1 file(s) in batch `b_1` is above "
        f"the feed's threshold 5.00% (batch: 2.30% (23 of 1000 rows)); {action}.\n"
        "Files above the threshold:\n"
        "• `half_bad.csv`: 50.00% (20 of 40 rows)\n"
        "Top reasons:\n"
        "• bad: 23"
    ]


def test_a_file_above_a_fail_threshold_fails_the_batch_and_a_warn_one_does_not():
    fail = dataclasses.replace(TX, deadletter_threshold=0.05, on_exceed="fail")
    r = report(1000, 23, files=HALF_BAD)
    assert audit.threshold_error(fail, r) == "deadletter share above 5.00% in 1 file(s) (batch: 2.30%): half_bad.csv 50.00%"
    assert audit.threshold_error(dataclasses.replace(fail, on_exceed="warn"), r) is None


def test_the_failure_names_the_first_files_and_counts_the_rest():
    fail = dataclasses.replace(TX, deadletter_threshold=0.05, on_exceed="fail")
    files = {f"f{i}.csv": (100, 10 + i) for i in range(7)} | {"clean.csv": (100_000, 0)}
    error = audit.threshold_error(fail, report(100_700, sum(10 + i for i in range(7)), files=files))
    assert error == ("deadletter share above 5.00% in 7 file(s) (batch: 0.09%): "
                     "f6.csv 16.00%, f5.csv 15.00%, f4.csv 14.00%, f3.csv 13.00%, f2.csv 12.00% and 2 more")


def test_the_report_names_each_loaded_files_drifted_columns_and_alerts_after_quarantine():
    files = [
        {**file_row("a.csv", read=2, loaded=2, dead=0), "columns_added": '["tier"]', "columns_nulled": '["x"]'},
        {**file_row("b.csv", read=2, loaded=2, dead=0), "columns_ignored": '["Note"]'},
        {**file_row("c.csv", read=2, loaded=2, dead=0)},
        {**file_row("q.csv", status="quarantined", reason="bad header"), "columns_added": None},
    ]
    report = audit.batch_report(files, [], SPAN)
    assert report["drift"] == {"a.csv": {"added": ["tier"], "nulled": ["x"]}, "b.csv": {"ignored": ["Note"]}}
    texts = audit.alert_texts(CUSTOMERS, "b_1", report)
    assert [t.split("*")[0] for t in texts] == [":warning: Feedline ", ":large_blue_circle: Feedline "]
    assert texts[1] == alerts.drift_text("customers", "b_1", report["drift"])


def test_a_claimed_file_is_a_duplicate_when_its_checksum_was_ingested_before():
    ingested = {"md5:AA": {"batch_id": "b_1", "source_file": "x.csv"}}
    checksums = {"y.csv": "md5:AA", "x.csv": "md5:AA", "new.csv": "md5:BB", "unknown.csv": None}
    assert audit.duplicate_files(checksums, ingested) == {
        "x.csv": {"checksum": "md5:AA", "batch_id": "b_1", "source_file": "x.csv"},
        "y.csv": {"checksum": "md5:AA", "batch_id": "b_1", "source_file": "x.csv"},
    }
    assert audit.duplicate_files(checksums, {}) == {}
    assert audit.duplicate_reason(ingested["md5:AA"]) == "same content as 'x.csv', ingested in batch b_1"


def test_the_duplicate_queries_take_every_value_as_a_parameter_used_once():
    """The emulator turns each appearance of a parameter into one of its own: each appears once."""
    p = sql.template_params(SETTINGS, TX)
    for template, names in ((audit.INGESTED_CHECKSUMS_SQL, ["checksums", "batch_id"]),
                            (audit.RECORD_CHECKSUMS_SQL, ["batch_id", "attempt", "files"]),
                            (audit.RECORD_DUPLICATE_SQL, ["batch_id", "attempt", "dag_run_id", "source_file",
                                                          "checksum", "duplicate_of", "reason", "dry_run"])):
        statement = sql.render(SETTINGS, template, params=p)
        assert f"`{p['audit_table']}`" in statement, template
        assert sorted(re.findall(r"@(\w+)", statement)) == sorted(names), template


def test_a_duplicate_with_no_rows_reconciles_and_one_with_rows_does_not():
    row = {"batch_id": "b_2", "source_file": "x.csv", "status": "duplicate", "rows_read": None,
           "rows_loaded": None, "rows_deadletter": None, "raw_rows": 0, "deadletter_rows": 0}
    assert audit.reconciliation_problems(TX, [row], []) == []
    assert audit.reconciliation_problems(TX, [{**row, "raw_rows": 3}], []) == [
        "batch b_2 file 'x.csv': duplicate, yet 3 raw and 0 deadletter rows"]


def test_a_repeat_of_a_quarantined_file_goes_back_to_quarantine_with_the_first_reason():
    ingested = {"md5:AA": {"batch_id": "b_1", "source_file": "x.csv", "status": "loaded", "reason": None},
                "md5:BB": {"batch_id": "b_1", "source_file": "bad.csv", "status": "quarantined", "reason": "bad header"}}
    duplicates = audit.duplicate_files({"x2.csv": "md5:AA", "bad2.csv": "md5:BB"}, ingested)
    assert audit.quarantined_again(duplicates) == {
        "bad2.csv": "same content as 'bad.csv', quarantined in batch b_1: bad header (force_reingest validates it again)"
    }
    assert audit.duplicate_reason(duplicates["x2.csv"]) == "same content as 'x.csv', ingested in batch b_1"
