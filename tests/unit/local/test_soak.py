"""The soak's pure parts: the files it plans and makes, when it sweeps, and how it counts lost and
duplicated rows from the tables' rows (the run itself: tests/e2e/test_soak.py)."""

from __future__ import annotations

import io
from datetime import date

import pytest

from feedline.local import soak
from feedline.validate.rules import summarize_file

DAY = date(2026, 12, 2)
TAG = "soak20261202T060000"


def test_the_plan_spreads_the_records_over_the_good_files_of_both_feeds(contracts):
    plan = soak.plan_files(20, 20_003, 3, TAG, DAY)
    good = [f for f in plan if not f.bad]
    assert len(plan) == 20 and len(good) == 17
    assert sum(f.records for f in good) == 20_003
    assert {f.records for f in good} == {1176, 1177}
    assert sorted(f.bad for f in plan if f.bad) == ["empty", "truncated gzip", "wrong header"]
    assert {f.feed for f in plan} == {"customers", "transactions"}
    assert len({f.name for f in plan}) == 20 and all(TAG in f.name for f in plan)
    assert all(contracts[f.feed].matches_file_name(f.name) for f in plan)
    assert sum(f.gzipped for f in good) == 3 and all(f.name.endswith(".gz") == f.gzipped for f in plan)
    spans = sorted((f.first_index, f.first_index + f.records) for f in plan)
    assert all(end <= start for (_, end), (start, _) in zip(spans, spans[1:]))  # no key in two files


def test_a_plan_needs_one_good_file():
    with pytest.raises(ValueError, match="bad files < files"):
        soak.plan_files(3, 100, 3, TAG, DAY)


def test_good_files_hold_their_records_and_bad_files_are_rejected_with_a_reason(contracts):
    plan = soak.plan_files(8, 2_000, 3, TAG, DAY)
    reasons = {}
    for f in plan:
        summary = summarize_file(contracts[f.feed], io.BytesIO(soak.file_bytes(f, 0.01, 1, DAY)))
        if f.bad:
            reasons[f.bad] = summary.file_error
        else:
            assert summary.file_error is None and summary.rows_read == f.records, f
            assert 0 < summary.rows_deadletter < f.records * 0.05, f
    assert reasons["empty"] == "empty file: no header"
    assert reasons["wrong header"].startswith("header does not match")
    assert reasons["truncated gzip"].startswith("unreadable compressed file")


@pytest.mark.parametrize(
    "in_landing, pending, active, due",
    [(5, 0, 0, True), (5, 0, 3, True), (5, 1, 1, False), (5, 0, 4, False), (0, 0, 0, False)],
)
def test_a_sweep_is_due_when_files_wait_and_no_sweep_can_still_take_them(in_landing, pending, active, due):
    assert soak.sweep_due(in_landing, pending, active, max_active_runs=4) is due


def row(f: soak.SoakFile, batch: str = "b1", raw: int | None = None, deadletter: int = 10, **audit) -> dict:
    """A reconcile_files row of a file as a clean run leaves it."""
    if f.bad:
        base = {"status": "quarantined", "reason": "empty file: no header", "rows_read": 0,
                "rows_loaded": 0, "rows_deadletter": 0, "raw_rows": 0, "deadletter_rows": 0}
    else:
        raw = f.records - deadletter if raw is None else raw
        base = {"status": "loaded", "reason": None, "rows_read": f.records, "rows_loaded": raw,
                "rows_deadletter": deadletter, "raw_rows": raw, "deadletter_rows": deadletter}
    return {"batch_id": batch, "source_file": f.name, **base, **audit}


PLAN = soak.plan_files(4, 400, 1, TAG, DAY)
GOOD, BAD = PLAN[0], PLAN[-1]


def test_a_clean_soak_counts_every_row_once():
    fig = soak.figures(PLAN, [row(f, batch=f"b{i % 2}") for i, f in enumerate(PLAN)], 0, 0)
    assert (fig.files, fig.rows, fig.batches, fig.lost, fig.duplicated, fig.problems) == (4, 400, 2, 0, 0, [])
    assert soak.summary_line(fig, 20.0, 2) == "files=4 rows=400 rows_per_s=20 batches=2 beam_jobs=2 lost=0 duplicated=0"


def test_rows_missing_from_raw_a_file_never_seen_and_keys_missing_from_staging_are_lost():
    rows = [row(GOOD, raw=GOOD.records - 13, rows_loaded=GOOD.records - 10), row(BAD)]
    fig = soak.figures(PLAN, rows, staging_extra=0, staging_missing=2)
    unseen = sum(f.records for f in PLAN[1:-1])
    assert fig.lost == 3 + unseen + 2 and fig.duplicated == 0
    assert any("not in the audit" in p for p in fig.problems)
    assert any("audit read" in p for p in fig.problems)  # the audit's counts disagree with raw


def test_a_bad_file_without_a_quarantine_reason_is_lost():
    rows = [row(f) for f in PLAN[:-1]] + [row(BAD, reason=None)]
    fig = soak.figures(PLAN, rows, 0, 0)
    assert fig.lost == 1 and "no quarantine reason" in fig.problems[0]


def test_a_file_in_two_batches_rows_of_a_rejected_file_and_extra_staging_rows_are_duplicated():
    rows = [row(f) for f in PLAN[:-1]] + [row(GOOD, batch="b2"), row(BAD, raw_rows=5)]
    fig = soak.figures(PLAN, rows, staging_extra=4, staging_missing=0)
    assert fig.duplicated == GOOD.records + 5 + 4 and fig.lost == 0 and fig.batches == 2
    assert any("in 2 batch(es)" in p for p in fig.problems)


class TaskApi:
    def task_instances(self, dag_id, run_id):
        return [{"task_id": "claim_files", "duration": 3.2}, {"task_id": "validate_rows", "duration": 150.4},
                {"task_id": "publish_raw", "duration": 61.0}, {"task_id": "settle_files", "duration": None}]


def test_a_run_names_its_longest_tasks():
    assert soak.slowest_tasks(TaskApi(), "d", "r", n=2) == "validate_rows 150s, publish_raw 61s"
