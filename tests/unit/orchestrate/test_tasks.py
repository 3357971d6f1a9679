"""The DAG's Python tasks, called as Airflow calls them (their functions, with a context),
with the services replaced: what they return, alert and raise."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from feedline.contract import naming
from feedline.contract.model import load_contracts
from feedline.orchestrate import alerts, launch, tasks
from feedline.settings import from_env
from feedline.storage import claims

LOCAL = from_env({})
CLOUD = from_env({"FEEDLINE_ENV": "prod", "FEEDLINE_TEMPLATE_SPEC": "gs://t/spec.json",
                  "FEEDLINE_CONTRACTS_URI": "gs://feedline-work/contracts"})
TX = load_contracts()["transactions"]
RUN_AFTER = datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc)
NO_PARAMS = {"files": None, "date": None, "from_archive": None, "dry_run": None, "force_reingest": None}  # the params' defaults


def dag_run(run_type="scheduled", run_id="scheduled__2026-11-27T08:15:00+00:00", conf=None):
    return SimpleNamespace(run_id=run_id, run_type=run_type, run_after=RUN_AFTER, conf=conf or {})


@pytest.fixture
def sent(monkeypatch):
    texts: list[str] = []
    monkeypatch.setattr(tasks, "send_slack", lambda settings, text: texts.append(text))
    monkeypatch.setattr(tasks, "gcs_client", lambda: "gcs-client")
    return texts


def test_backfills_and_archive_runs_take_files_from_the_archive():
    assert tasks.is_backfill(NO_PARAMS, dag_run("backfill"))
    assert tasks.is_backfill({**NO_PARAMS, "from_archive": True}, dag_run())
    assert not tasks.is_backfill(NO_PARAMS, dag_run())


def test_an_archive_run_without_a_logical_date_takes_the_day_it_ran(monkeypatch, sent):
    calls = []
    monkeypatch.setattr(claims, "claim_files", lambda *a, **kw: calls.append(a[5:]) or claim_with(["x.csv"]))
    tasks.claim_files.function(TX, LOCAL, params={**NO_PARAMS, "from_archive": True}, dag_run=dag_run("manual"))
    assert calls == [("20261127", True)]


def test_claim_date_is_the_runs_date_or_a_backfills_logical_date():
    assert tasks.claim_date({**NO_PARAMS, "date": "20261101"}, True, RUN_AFTER) == "20261101"
    assert tasks.claim_date(NO_PARAMS, True, RUN_AFTER) == "20261127"
    assert tasks.claim_date(NO_PARAMS, False, RUN_AFTER) is None


def test_ingested_at_is_the_runs_due_time_in_utc():
    run = SimpleNamespace(run_after=datetime(2026, 11, 27, 9, 15, 1, 5, tzinfo=timezone(timedelta(hours=1))))
    assert tasks.ingested_at(run) == "2026-11-27T08:15:01.000005Z"


def test_launch_options_follow_the_runner():
    local = tasks.launch_options(LOCAL, TX, "b_1", "2026-11-27T08:15:00.000000Z")
    spec = launch.launch_spec(LOCAL, TX, "b_1", "2026-11-27T08:15:00.000000Z")
    assert local == launch.direct_runner_options(spec)
    cloud = tasks.launch_options(CLOUD, TX, "b_1", "2026-11-27T08:15:00.000000Z")
    spec = launch.launch_spec(CLOUD, TX, "b_1", "2026-11-27T08:15:00.000000Z")
    assert cloud == launch.flex_template_body(CLOUD, spec)


def test_fail_if_fails_without_retry_only_with_a_reason():
    tasks.fail_if(None)
    with pytest.raises(AirflowFailException, match="why"):
        tasks.fail_if("why")


@pytest.mark.parametrize(
    "params, run_type, has_manifest, expected",
    [
        (NO_PARAMS, "scheduled", False, "wait_for_files"),
        (NO_PARAMS, "scheduled", True, "claim_files"),  # a re-run takes its own files back
        ({**NO_PARAMS, "files": ["x.csv"]}, "manual", False, "claim_files"),
        (NO_PARAMS, "backfill", False, "claim_files"),
    ],
)
def test_choose_source(monkeypatch, sent, params, run_type, has_manifest, expected):
    asked = []

    def fake_has_manifest(client, settings, contract, batch_id):
        asked.append(batch_id)
        return has_manifest

    monkeypatch.setattr(claims, "has_manifest", fake_has_manifest)
    run = dag_run(run_type)
    day_start = datetime(2026, 11, 27, tzinfo=timezone.utc)  # the first tick: a backfill claims
    assert tasks.choose_source.function(TX, LOCAL, params=params, dag_run=run, logical_date=day_start) == expected
    if not params["files"] and run_type != "backfill":
        assert asked == [naming.batch_id_for_run("transactions", run.run_id)]


@pytest.mark.parametrize("run_type", ["scheduled", "manual", "asset_triggered"])
def test_only_backfill_runs_are_ever_idle_ticks(monkeypatch, sent, run_type):
    monkeypatch.setattr(claims, "has_manifest", lambda *a: False)
    later = datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc)
    assert tasks.idle_backfill_tick(TX, dag_run(run_type), later) is None
    assert tasks.choose_source.function(TX, LOCAL, params=NO_PARAMS, dag_run=dag_run(run_type),
                                        logical_date=later) == "wait_for_files"
    assert tasks.choose_source.function(TX, LOCAL, params=NO_PARAMS, dag_run=dag_run(run_type),
                                        logical_date=None) == "wait_for_files"  # a manual run may have none
    assert tasks.choose_source.function(TX, LOCAL, params=NO_PARAMS, dag_run=dag_run(run_type)) == "wait_for_files"


def test_a_backfill_claims_each_day_at_its_first_tick_and_skips_the_others(monkeypatch, sent):
    """One backfill day of transactions ('*/15 * * * *'): 96 runs, one claims the day's archive."""
    monkeypatch.setattr(claims, "has_manifest", lambda *a: pytest.fail("an idle tick must not look at GCS"))
    day = datetime(2026, 11, 27, tzinfo=timezone.utc)
    outcomes = {}
    for n in range(96):
        logical_date = day + timedelta(minutes=15 * n)
        run = dag_run("backfill", run_id=f"backfill__{logical_date.isoformat()}")
        try:
            outcomes[logical_date] = tasks.choose_source.function(
                TX, LOCAL, params=NO_PARAMS, dag_run=run, logical_date=logical_date)
        except AirflowSkipException as skip:
            outcomes[logical_date] = str(skip)
    assert outcomes.pop(day) == "claim_files"
    assert len(outcomes) == 95
    assert all("nothing to do" in o and "20261127" in o and "2026-11-27T00:00:00+00:00" in o
               for o in outcomes.values()), outcomes
    assert tasks.claim_date(NO_PARAMS, True, day) == "20261127"


def test_a_backfill_reprocessing_a_scheduled_run_gets_a_batch_of_its_own():
    """Airflow's backfill with reprocessing clears the existing run and makes it a backfill run
    (same run id): its earlier scheduled batch must not be redone with the archive's files."""
    scheduled = dag_run("scheduled")
    reprocessed = dag_run("backfill", run_id=scheduled.run_id)
    assert tasks.batch_of_run(TX, scheduled) == naming.batch_id_for_run("transactions", scheduled.run_id)
    assert tasks.batch_of_run(TX, reprocessed) != tasks.batch_of_run(TX, scheduled)
    assert tasks.batch_of_run(TX, reprocessed) == tasks.batch_of_run(TX, dag_run("backfill", run_id=scheduled.run_id))


def test_a_backfill_runs_claim_copies_its_logical_days_archive(monkeypatch, sent):
    calls = []

    def fake_claim(client, settings, contract, batch_id, files, file_date, from_archive, copy_only=False):
        calls.append((batch_id, files, file_date, from_archive))
        return claim_with(["transactions_20261127.csv"])

    monkeypatch.setattr(claims, "claim_files", fake_claim)
    run = dag_run("backfill", run_id="backfill__2026-11-27T00:00:00+00:00")
    out = tasks.claim_files.function(TX, LOCAL, params=NO_PARAMS, dag_run=run,
                                     logical_date=datetime(2026, 11, 27, tzinfo=timezone.utc))
    assert calls == [(tasks.batch_of_run(TX, run), None, "20261127", True)]
    assert out["batch_id"] == tasks.batch_of_run(TX, run)


def claim_with(files, misnamed=None, attempt=0) -> claims.Claim:
    return claims.Claim("b", [claims.ClaimedFile(f, f"processing/{f}", "landing", None) for f in files],
                        misnamed or {}, attempt)


def test_claim_files_returns_the_xcoms_the_dag_uses(monkeypatch, sent):
    calls = []

    def fake_claim(client, settings, contract, batch_id, files, file_date, from_archive, copy_only):
        calls.append((client, batch_id, files, file_date, from_archive, copy_only))
        return claim_with(["transactions_20261127.csv"], {"transactions/sub/bad.csv": "no date"}, attempt=1)

    recorded = []
    monkeypatch.setattr(claims, "claim_files", fake_claim)
    monkeypatch.setattr(tasks, "bigquery_client", lambda settings: "bq-client")
    monkeypatch.setattr(tasks, "record_claim_quarantine", lambda *args: recorded.append(args))
    run = dag_run()
    out = tasks.claim_files.function(TX, LOCAL, params=NO_PARAMS, dag_run=run, logical_date=RUN_AFTER)
    batch_id = naming.batch_id_for_run("transactions", run.run_id)
    assert calls == [("gcs-client", batch_id, None, None, False, False)]
    assert sorted(out) == ["attempt", "batch_id", "claim", "ingested_at", "launch"]
    assert out["batch_id"] == batch_id and out["attempt"] == 1
    assert out["ingested_at"] == "2026-11-27T08:15:00.000000Z"
    assert claims.Claim.from_xcom(out["claim"]).files[0].name == "transactions_20261127.csv"
    assert out["launch"] == tasks.launch_options(LOCAL, TX, batch_id, out["ingested_at"])
    # the claim's quarantined objects, by their path below the feed's prefix: audited, then alerted
    assert recorded == [("bq-client", LOCAL, TX, batch_id, 1, run.run_id, {"sub/bad.csv": "no date"}, False)]
    assert sent == [alerts.quarantine_text("transactions", batch_id, {"sub/bad.csv": "no date"})]


def test_claim_files_skips_when_nothing_is_claimed(monkeypatch, sent):
    monkeypatch.setattr(claims, "claim_files", lambda *a, **k: claim_with([]))
    with pytest.raises(AirflowSkipException, match="no transactions files"):
        tasks.claim_files.function(TX, LOCAL, params=NO_PARAMS, dag_run=dag_run(), logical_date=RUN_AFTER)
    assert sent == []


def test_claim_files_names_the_batches_that_took_the_requested_files(monkeypatch, sent, caplog):
    taken = {"transactions_20261127.csv": ["gs://archive/transactions/date=20261127/sweep_1/transactions_20261127.csv"],
             "transactions_20261128.csv": []}
    monkeypatch.setattr(claims, "claim_files", lambda *a, **k: dataclasses.replace(claim_with([]), taken=taken))
    params = {**NO_PARAMS, "files": list(taken)}
    with caplog.at_level("WARNING", logger=tasks.log.name), pytest.raises(AirflowSkipException) as skipped:
        # no logical_date: what the Task SDK gives a run triggered with "logical_date": null
        tasks.claim_files.function(TX, LOCAL, params=params, dag_run=dag_run("manual"))
    message = str(skipped.value)
    assert message == alerts.taken_text("transactions", {"transactions_20261127.csv": ["sweep_1"],
                                                         "transactions_20261128.csv": []})
    assert "transactions_20261127.csv was taken by batch sweep_1" in message
    assert "transactions_20261128.csv is in no landing" in message
    assert message in caplog.messages
    assert sent == []


def test_claim_files_goes_on_with_what_it_got_and_logs_what_others_took(monkeypatch, sent, caplog):
    taken = {"b.csv": ["gs://landing/processing/transactions/other/b.csv"]}
    monkeypatch.setattr(claims, "claim_files", lambda *a, **k: dataclasses.replace(claim_with(["a.csv"]), taken=taken))
    with caplog.at_level("WARNING", logger=tasks.log.name):
        out = tasks.claim_files.function(TX, LOCAL, params={**NO_PARAMS, "files": ["a.csv", "b.csv"]},
                                         dag_run=dag_run("manual"))
    assert claims.Claim.from_xcom(out["claim"]).taken == taken
    assert "transactions: requested file(s) no longer in landing: b.csv was taken by batch other" in caplog.messages


class FakeTI:
    def xcom_pull(self, task_ids, key):
        assert task_ids == "claim_files"
        return {"batch_id": "b_1", "attempt": 0, "ingested_at": "2026-11-27T08:15:00.000000Z"}[key]


def run_check(monkeypatch, contract, report, **context):
    class Hook:
        def __init__(self, **kwargs):
            pass

        def get_client(self, project_id, location):
            return "bq-client"

    monkeypatch.setattr(tasks, "BigQueryHook", Hook)
    monkeypatch.setattr(tasks.audit, "inspect_batch", lambda client, settings, c, b, a, i: report)
    return tasks.check_batch.function(contract, LOCAL, ti=FakeTI(), **context)


def batch_report(rows_read=100, rows_deadletter=20, lost=None, quarantined=None) -> dict:
    return {"rows_read": rows_read, "rows_loaded": rows_read - rows_deadletter, "rows_deadletter": rows_deadletter,
            "share": rows_deadletter / rows_read, "lost": lost or {}, "quarantined": quarantined or {},
            "file_shares": {"a.csv": {"rows_read": rows_read, "rows_deadletter": rows_deadletter,
                                      "share": rows_deadletter / rows_read}},
            "files": {"a.csv": "loaded", **{name: "quarantined" for name in quarantined or {}}},
            "reasons": [("bad", rows_deadletter)]}


def test_check_batch_logs_then_alerts_and_goes_on_under_warn(monkeypatch, sent, caplog):
    contract = dataclasses.replace(TX, deadletter_threshold=0.1, on_exceed="warn")
    report = batch_report(quarantined={"c.csv": "bad header"})
    with caplog.at_level("INFO", logger=tasks.log.name):
        assert run_check(monkeypatch, contract, report) is report
    assert tasks.audit.audit_line("transactions", "b_1", report) in caplog.messages
    assert sent == tasks.audit.alert_texts(contract, "b_1", report) and len(sent) == 2


def test_check_batch_alerts_then_fails_above_a_fail_threshold(monkeypatch, sent):
    contract = dataclasses.replace(TX, deadletter_threshold=0.1, on_exceed="fail")
    with pytest.raises(AirflowFailException, match="deadletter share 20.00% is above 10.00%"):
        run_check(monkeypatch, contract, batch_report())
    assert len(sent) == 1 and "stopped before staging" in sent[0]


def one_bad_file_report() -> dict:
    """2.3% of the batch deadlettered, 50% of one of its files."""
    report = batch_report(1000, 23)
    report["file_shares"] = {
        "clean.csv": {"rows_read": 960, "rows_deadletter": 3, "share": 3 / 960},
        "half_bad.csv": {"rows_read": 40, "rows_deadletter": 20, "share": 0.5},
    }
    report["files"] = {"clean.csv": "loaded", "half_bad.csv": "loaded"}
    return report


def test_check_batch_fails_when_one_file_is_above_a_fail_threshold_and_the_batch_is_not(monkeypatch, sent):
    contract = dataclasses.replace(TX, deadletter_threshold=0.05, on_exceed="fail")
    with pytest.raises(AirflowFailException, match=r"in 1 file\(s\) \(batch: 2.30%\): half_bad.csv 50.00%"):
        run_check(monkeypatch, contract, one_bad_file_report())
    assert len(sent) == 1 and "stopped before staging" in sent[0]
    assert "• `half_bad.csv`: 50.00% (20 of 40 rows)" in sent[0] and "batch: 2.30% (23 of 1000 rows)" in sent[0]
    assert "clean.csv" not in sent[0]


def test_check_batch_under_warn_alerts_on_one_file_above_the_threshold_and_goes_on(monkeypatch, sent):
    contract = dataclasses.replace(TX, deadletter_threshold=0.05, on_exceed="warn")
    report = one_bad_file_report()
    assert run_check(monkeypatch, contract, report) is report
    assert len(sent) == 1 and "half_bad.csv" in sent[0] and "the batch goes on" in sent[0]


def test_a_dry_run_names_the_file_above_the_threshold_and_stops_nothing(monkeypatch, sent):
    contract = dataclasses.replace(TX, deadletter_threshold=0.05, on_exceed="fail")
    report = one_bad_file_report()
    assert run_check(monkeypatch, contract, report, params={"dry_run": True}) is report
    assert len(sent) == 1 and "dry run" in sent[0]
    assert "(share 2.30%)" in sent[0] and "• `half_bad.csv`: 50.00% (20 of 40 rows)" in sent[0]


def test_check_batch_fails_on_lost_rows_before_any_alert(monkeypatch, sent):
    contract = dataclasses.replace(TX, deadletter_threshold=0.1, on_exceed="fail")
    with pytest.raises(AirflowFailException, match="rows lost"):
        run_check(monkeypatch, contract, batch_report(lost={"a.csv": 2}, quarantined={"c.csv": "x"}))
    assert sent == []


def test_settle_files_settles_the_claim_with_the_quarantined_files(monkeypatch, sent):
    calls = []
    monkeypatch.setattr(claims, "settle_files", lambda client, settings, contract, claim, quarantined:
                        calls.append((client, claim.batch_id, quarantined)) or {"a.csv": "archived"})
    result = tasks.settle_files.function(TX, LOCAL, claim_with(["a.csv"]).to_xcom(), {"quarantined": {"q.csv": "r"}})
    assert result == {"a.csv": "archived"}
    assert calls == [("gcs-client", "b", {"q.csv": "r"})]


def claim_of(checksums: dict[str, str | None], batch_id="b") -> claims.Claim:
    files = [claims.ClaimedFile(n, f"processing/{n}", "landing", None, c) for n, c in checksums.items()]
    return claims.Claim(batch_id, files, {}, 0)


@pytest.fixture
def duplicates_seen(monkeypatch):
    """The audit's answer (checksum -> first ingestion) and what the claim then did with it."""
    seen = {"ingested": {}, "looked_up": [], "recorded": [], "settled": [], "released": []}
    monkeypatch.setattr(tasks, "bigquery_client", lambda settings: "bq-client")

    def ingested_before(client, settings, contract, batch_id, checksums):
        seen["looked_up"].append((batch_id, sorted(checksums)))
        return {c: seen["ingested"][c] for c in checksums if c in seen["ingested"]}

    monkeypatch.setattr(tasks.audit, "ingested_before", ingested_before)
    monkeypatch.setattr(tasks.audit, "record_duplicates", lambda client, s, c, batch_id, attempt, run_id, dups, dry:
                        seen["recorded"].append((batch_id, attempt, run_id, dups, dry)))
    monkeypatch.setattr(claims, "settle_files", lambda gcs, s, c, claim, rejected:
                        seen["settled"].append(([f.name for f in claim.files], rejected)))
    monkeypatch.setattr(claims, "release_copies", lambda gcs, s, c, claim: seen["released"].append([f.name for f in claim.files]))
    return seen


def test_a_claim_archives_its_duplicates_with_an_audit_row_and_goes_on_with_the_new_files(
    monkeypatch, sent, caplog, duplicates_seen
):
    first = {"batch_id": "sweep_1", "source_file": "transactions_20261125.csv"}
    duplicates_seen["ingested"] = {"md5:OLD": first}
    monkeypatch.setattr(claims, "claim_files", lambda *a, **k: claim_of(
        {"transactions_20261125.csv": "md5:OLD", "transactions_20261125_again.csv": "md5:OLD",
         "transactions_20261126.csv": "md5:NEW"}, naming.batch_id_for_run("transactions", dag_run().run_id)))
    with caplog.at_level("INFO", logger=tasks.log.name):
        out = tasks.claim_files.function(TX, LOCAL, params=NO_PARAMS, dag_run=dag_run(), logical_date=RUN_AFTER)
    batch_id = out["batch_id"]
    assert [f.name for f in claims.Claim.from_xcom(out["claim"]).files] == ["transactions_20261126.csv"]
    assert duplicates_seen["looked_up"] == [(batch_id, ["md5:NEW", "md5:OLD", "md5:OLD"])]
    dups = {name: {"checksum": "md5:OLD", **first}
            for name in ("transactions_20261125.csv", "transactions_20261125_again.csv")}
    assert duplicates_seen["recorded"] == [(batch_id, 0, dag_run().run_id, dups, False)]
    assert duplicates_seen["settled"] == [(sorted(dups), {})]  # archived now, nothing quarantined
    assert sent == [alerts.duplicates_text("transactions", batch_id, dups)] and sent[0] in caplog.messages
    tasks.skip_without_files({"ti": SimpleNamespace(xcom_pull=lambda task_ids, key: out[key])})  # goes on


def test_a_claim_of_duplicates_only_succeeds_and_skips_the_rest_of_the_batch(monkeypatch, sent, duplicates_seen):
    duplicates_seen["ingested"] = {"md5:OLD": {"batch_id": "sweep_1", "source_file": "a.csv"}}
    monkeypatch.setattr(claims, "claim_files", lambda *a, **k: claim_of({"a.csv": "md5:OLD"}))
    out = tasks.claim_files.function(TX, LOCAL, params=NO_PARAMS, dag_run=dag_run(), logical_date=RUN_AFTER)
    assert claims.Claim.from_xcom(out["claim"]).files == []
    assert duplicates_seen["settled"] == [(["a.csv"], {})] and len(sent) == 1
    with pytest.raises(AirflowSkipException, match="every claimed file is a duplicate"):
        tasks.skip_without_files({"ti": SimpleNamespace(xcom_pull=lambda task_ids, key: out[key])})


def test_a_dry_run_reports_its_duplicates_and_leaves_them_in_landing(monkeypatch, sent, duplicates_seen):
    duplicates_seen["ingested"] = {"md5:OLD": {"batch_id": "sweep_1", "source_file": "a.csv"}}
    monkeypatch.setattr(claims, "claim_files", lambda *a, **k: claim_of({"a.csv": "md5:OLD", "b.csv": "md5:NEW"}))
    out = tasks.claim_files.function(TX, LOCAL, params={**NO_PARAMS, "dry_run": True}, dag_run=dag_run(),
                                     logical_date=RUN_AFTER)
    assert [f.name for f in claims.Claim.from_xcom(out["claim"]).files] == ["b.csv"]
    assert duplicates_seen["released"] == [["a.csv"]] and duplicates_seen["settled"] == []
    assert duplicates_seen["recorded"][0][-1] is True and "a dry run" in sent[0]


@pytest.mark.parametrize("params, run_type", [({**NO_PARAMS, "force_reingest": True}, "manual"),
                                               ({**NO_PARAMS, "from_archive": True}, "manual"),
                                               (NO_PARAMS, "backfill")])
def test_force_reingest_and_backfills_never_look_for_duplicates(monkeypatch, sent, duplicates_seen, params, run_type):
    duplicates_seen["ingested"] = {"md5:OLD": {"batch_id": "sweep_1", "source_file": "a.csv"}}
    monkeypatch.setattr(claims, "claim_files", lambda *a, **k: claim_of({"a.csv": "md5:OLD"}))
    out = tasks.claim_files.function(TX, LOCAL, params=params, dag_run=dag_run(run_type), logical_date=RUN_AFTER)
    assert [f.name for f in claims.Claim.from_xcom(out["claim"]).files] == ["a.csv"]
    assert duplicates_seen["looked_up"] == [] and duplicates_seen["settled"] == [] and sent == []


def test_files_without_a_checksum_are_never_looked_up(monkeypatch, sent, duplicates_seen):
    monkeypatch.setattr(tasks, "bigquery_client", lambda settings: pytest.fail("no BigQuery call expected"))
    monkeypatch.setattr(claims, "claim_files", lambda *a, **k: claim_of({"a.csv": None}))
    out = tasks.claim_files.function(TX, LOCAL, params=NO_PARAMS, dag_run=dag_run(), logical_date=RUN_AFTER)
    assert len(claims.Claim.from_xcom(out["claim"]).files) == 1


def test_settle_files_keeps_the_settled_files_checksums_in_the_audit(monkeypatch, sent):
    recorded = []
    monkeypatch.setattr(claims, "settle_files", lambda *a: {"a.csv": "archived", "q.csv": "quarantined"})
    monkeypatch.setattr(tasks, "bigquery_client", lambda settings: "bq-client")
    monkeypatch.setattr(tasks.audit, "record_checksums", lambda *a: recorded.append(a))
    claim = dataclasses.replace(claim_of({"a.csv": "md5:A", "q.csv": "md5:Q", "n.csv": None}), attempt=1)
    tasks.settle_files.function(TX, LOCAL, claim.to_xcom(), {"quarantined": {"q.csv": "r"}}, params=NO_PARAMS)
    assert recorded == [("bq-client", LOCAL, TX, "b", 1, {"a.csv": "md5:A", "q.csv": "md5:Q"})]
    # a dry run settles nothing and records nothing
    monkeypatch.setattr(claims, "release_copies", lambda *a: {})
    tasks.settle_files.function(TX, LOCAL, claim.to_xcom(), {"quarantined": {}}, params={**NO_PARAMS, "dry_run": True})
    assert len(recorded) == 1


def test_settle_files_skips_a_claim_whose_files_were_all_duplicates(monkeypatch, sent):
    monkeypatch.setattr(claims, "settle_files", lambda *a: pytest.fail("nothing to settle"))
    with pytest.raises(AirflowSkipException, match="nothing to settle"):
        tasks.settle_files.function(TX, LOCAL, claim_of({}).to_xcom(), None, params=NO_PARAMS)
