"""The demo's pure parts: which samples belong to which feed, run ids, outcomes and timings."""

from __future__ import annotations

from datetime import datetime, timezone

from feedline.cli import build_parser
from feedline.local import demo


def test_every_sample_goes_to_the_feed_its_name_starts_with(contracts):
    files = demo.sample_files(contracts)
    assert set(files) == {"customers", "transactions"}
    assert all(name.startswith(feed + "_") for feed, names in files.items() for name in names)
    assert "customers_20261126_crm-v2.csv" in files["customers"]


def test_each_demo_run_gets_a_new_run_id():
    first = demo.demo_run_id("customers", datetime(2026, 12, 2, 6, 0, 0, tzinfo=timezone.utc))
    again = demo.demo_run_id("customers", datetime(2026, 12, 2, 6, 5, 0, tzinfo=timezone.utc))
    assert first == "demo__customers__20261202T060000" and again != first


class FakeApi:
    def __init__(self, state, claim):
        self.state, self.claim = state, claim

    def run(self, dag_id, run_id):
        return {"state": self.state, "queued_at": "2026-12-02T06:00:00Z", "end_date": "2026-12-02T06:01:05Z"}

    def task_instances(self, dag_id, run_id):
        return [{"task_id": "choose_source", "state": "success", "start_date": "2026-12-02T06:00:02Z"},
                {"task_id": "claim_files", "state": self.claim, "start_date": None}]


def test_a_run_that_claimed_its_files_is_a_success():
    assert demo.run_outcome(FakeApi("success", "success"), "d", "r") == "success"


def test_a_successful_run_that_claimed_nothing_is_not_a_success():
    outcome = demo.run_outcome(FakeApi("success", "skipped"), "d", "r")
    assert outcome != "success" and "claim_files skipped" in outcome


def test_a_failed_run_is_failed():
    assert demo.run_outcome(FakeApi("failed", "success"), "d", "r") == "failed"


def test_timings_come_from_the_schedulers_timestamps():
    assert demo.run_timings(FakeApi("success", "success"), "d", "r") == "queued to first task 2s, queued to end 65s"


def test_local_up_starts_airflow_unless_told_not_to():
    assert build_parser().parse_args(["local", "up"]).no_airflow is False
    assert build_parser().parse_args(["local", "up", "--no-airflow"]).no_airflow is True
