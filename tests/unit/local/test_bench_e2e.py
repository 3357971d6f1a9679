"""The e2e bench's arithmetic: how drop -> reporting splits into Beam, BigQuery and orchestration
from the scheduler's timestamps, what the task logs add, and the lines it prints (the run itself:
tests/e2e/test_bench_e2e.py)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from feedline.cli import build_parser
from feedline.local import bench_e2e
from feedline.local.bench_e2e import TaskTimes

T0 = datetime(2026, 12, 5, 18, 0, 0, tzinfo=timezone.utc)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def task(task_id: str, queued: float | None, start: float | None, end: float | None) -> TaskTimes:
    return TaskTimes(task_id, *(None if x is None else at(x) for x in (queued, start, end)))


# drop at 0; the run's tasks in a line, with the gaps a scheduler leaves between them.
RUN = [
    task("choose_source", 2.0, 2.5, 3.0),  # 0-2 scheduling, 2-2.5 start-up, 2.5-3 task
    task("wait_for_files", None, 3.0, 3.0),  # skipped: starts and ends at once, counts nothing
    task("claim_files", 3.5, 4.0, 5.0),  # 3-3.5 scheduling, 3.5-4 start-up, 4-5 task
    task("validate_rows", 5.5, 6.0, 16.0),  # 5-5.5 scheduling, 5.5-6 start-up, 6-16 beam
    task("load_deadletter", 15.0, 15.0, 17.0),  # overlaps beam (beam wins), then 16-17 bigquery
    task("load_summary", 16.5, 16.5, 18.0),  # 16.5-18 bigquery (and 17-18 alone)
    task("evolve_columns", 18.0, 18.0, 19.0),  # 18-19 task
    task("merge_staging", 19.0, 20.0, 22.0),  # 19-20 start-up, 20-22 bigquery
    task("refresh_daily_transaction_totals", 23.0, 23.0, 24.0),  # 22-23 scheduling, 23-24 bigquery
    task("settle_files", 24.5, 25.0, 26.0),  # after reporting: not counted
]


def test_every_second_of_the_drop_to_reporting_is_named_once():
    done = bench_e2e.reporting_done(RUN, at(26.0))
    assert done == at(24.0)
    parts = bench_e2e.breakdown(T0, done, RUN)
    assert parts == pytest.approx({"beam": 10.0, "bigquery": 5.0, "tasks": 2.5, "startup": 2.5, "scheduling": 4.0})
    assert sum(parts.values()) == pytest.approx(24.0)
    assert [t.task_id for t in bench_e2e.on_the_way(RUN, done)][-1] == "refresh_daily_transaction_totals"


def test_beam_outranks_bigquery_outranks_light_tasks_when_they_overlap():
    tasks = [task("claim_files", 0, 0, 10), task("load_valid", 0, 2, 8), task("validate_rows", 0, 4, 6)]
    assert bench_e2e.breakdown(T0, at(10), tasks) == pytest.approx(
        {"beam": 2.0, "bigquery": 4.0, "tasks": 4.0, "startup": 0.0, "scheduling": 0.0}
    )


def test_a_task_still_running_at_reporting_counts_until_then():
    parts = bench_e2e.breakdown(T0, at(5), [task("validate_rows", 0, 1, None)])
    assert parts["beam"] == pytest.approx(4.0) and parts["startup"] == pytest.approx(1.0)


@pytest.mark.parametrize("task_id, kind", [
    ("validate_rows", "beam"), ("load_valid", "bigquery"), ("publish_raw", "bigquery"),
    ("merge_staging", "bigquery"), ("refresh_daily_transaction_totals", "bigquery"), ("record_audit", "bigquery"),
    ("claim_files", "tasks"), ("check_batch", "tasks"), ("choose_source", "tasks"), ("settle_files", "tasks"),
])
def test_tasks_fall_in_the_categories_the_issue_names(task_id, kind):
    assert bench_e2e.category(task_id) == kind


def test_reporting_is_the_last_refresh_or_the_run_end_without_views():
    assert bench_e2e.reporting_done([task("refresh_a", 0, 1, 2), task("refresh_b", 0, 1, 3)], at(9)) == at(3)
    assert bench_e2e.reporting_done([task("refresh_a", 0, 1, 2), task("refresh_b", 0, 1, None)], at(9)) is None
    assert bench_e2e.reporting_done([task("claim_files", 0, 1, 2)], at(9)) == at(9)


def log(*events: tuple[float, str]) -> str:
    lines = [json.dumps({"timestamp": at(s).isoformat().replace("+00:00", "Z"), "event": e}) for s, e in events]
    return "\n".join(["not json", *lines])


def test_the_task_logs_say_what_a_task_spent_around_its_own_code():
    tasks = [task("validate_rows", 0, 10, 30), task("merge_staging", 0, 40, 42)]
    logs = {
        "validate_rows": log((10.2, "::group::Pre Execute"), (10.3, "DAG bundles loaded: dags-folder"),
                             (10.3, "Filling up the DagBag from dags/f.py"), (10.4, "Worker startup parse complete"),
                             (10.5, "::endgroup::"), (14.5, "Beam version: 2.77.0"),
                             (14.5, "Running command: python pipeline.py"), (29.0, "::group::Post Execute"),
                             (29.5, "::endgroup::")),
        "merge_staging": log((40.1, "::group::Pre Execute"), (40.15, "DAG bundles loaded: dags-folder"),
                             (40.2, "Filling up the DagBag from dags/f.py"), (40.25, "Worker startup parse complete"),
                             (40.6, "::endgroup::"), (41.0, "::group::Post Execute")),
    }
    inside = bench_e2e.in_task(tasks, logs)
    assert (inside.count["beam"], inside.count["bigquery"]) == (1, 1)
    assert inside.running["beam"] == pytest.approx(20.0)
    assert dict(inside.phases["beam"]) == pytest.approx({
        "process start": 0.2, "plugins import": 0.1, "DAG parse": 0.1, "lineage START": 0.1,
        "Beam version probe": 4.0, "post-execute": 1.0,
    })
    assert dict(inside.phases["bigquery"]) == pytest.approx({
        "process start": 0.1, "plugins import": 0.05, "DAG parse": 0.05, "lineage START": 0.35, "post-execute": 1.0,
    })
    assert inside.before_code("bigquery") == pytest.approx(0.55)


def test_a_task_without_a_log_counts_its_running_time_only():
    inside = bench_e2e.in_task([task("claim_files", 0, 1, 3)], {})
    assert (inside.count["tasks"], inside.running["tasks"], inside.before_code("tasks")) == (1, 2.0, 0)


def test_the_report_gives_shares_of_the_wall_time_and_the_last_line_each_size():
    parts = {"beam": 10.0, "bigquery": 4.5, "tasks": 2.5, "startup": 2.0, "scheduling": 5.0}
    inside = bench_e2e.in_task(RUN[:3], {})
    lines = bench_e2e.report(10_000, 24.0, parts, inside, 2.0, 0.1)
    assert lines[0].startswith("10k rows: drop -> reporting updated 24.0s")
    assert lines[1] == "   beam 10.0s 42%, bigquery 4.5s 19%, orchestration 9.5s 40%"
    assert "scheduling gaps 5.0s, task start-up (queued -> started) 2.0s, Feedline's light tasks 2.5s" in lines[2]
    # the skipped wait_for_files (started and ended at once: no process) is no task on the way
    assert lines[-1].startswith("   per task on the way (2): scheduling gap 2.50s, queued -> started 1.00s")
    assert bench_e2e.last_line({10_000: 24.04, 1_000_000: 301.26}) == "e2e_10k_s=24.0 e2e_1m_s=301.3"
    assert [bench_e2e.size_label(n) for n in (1_000, 10_000, 1_000_000, 12_345)] == ["1k", "10k", "1m", "12345"]


def test_the_command_measures_10k_and_1m_after_a_warm_up_unless_told():
    args = build_parser().parse_args(["bench-e2e"])
    assert (args.rows, args.warmup) == ([10_000, 1_000_000], 1_000)
    args = build_parser().parse_args(["bench-e2e", "--rows", "500", "--warmup", "0"])
    assert (args.rows, args.warmup) == ([500], 0)


@pytest.mark.parametrize("argv, says", [
    (["--rows", "10000", "10000"], "10k is repeated"),
    (["--rows", "0"], "positive row counts"),
    (["--warmup", "-1"], "--warmup 0 or more"),
])
def test_sizes_that_would_measure_nothing_new_are_refused_before_the_stack_starts(argv, says, monkeypatch, capsys):
    from feedline import cli
    from feedline.local import demo

    def no_stack(**_kwargs):
        raise AssertionError("the stack was started")

    monkeypatch.setattr(demo, "start_local", no_stack)
    assert cli.main(["bench-e2e", *argv]) == cli.EXIT_USAGE
    assert says in capsys.readouterr().err
