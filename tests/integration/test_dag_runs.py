"""Feed DAGs run through Airflow (``airflow dags test``: the real task runner, operators and
hooks) against the GCS and BigQuery emulators, then BigQuery is asked what landed."""

from __future__ import annotations

import collections
import hashlib
import json
import io
import os
import subprocess
import sys
from datetime import date

import pytest

from feedline.contract import naming, tables
from feedline.orchestrate import sql
from feedline.orchestrate.audit import reconcile
from feedline.validate.csvio import iter_records
from feedline.local import stack
from feedline.local.slack_receiver import read_alerts
from feedline.local.sample_data import generate
from feedline.settings import REPO_ROOT
from feedline.validate.rules import RowError, validate_records
from support import reset, rows, run_state

pytestmark = pytest.mark.airflow

SAMPLES = REPO_ROOT / "samples"


def drop(gcs, settings, feed: str, name: str, data: bytes) -> None:
    gcs.bucket(settings.landing_bucket).blob(f"{feed}/{name}").upload_from_string(data)


def dags_test(config, feed: str, run_after: str, *extra: str) -> str:
    """One DAG run through Airflow (DAG.test, as `airflow dags test`); the same run_after again
    re-runs the same DAG run. Its whole log is kept beside the stack's other logs. ``extra``:
    more run_dag arguments (--conf)."""
    env = {**os.environ, **stack.service_env(config)}
    result = subprocess.run(
        [sys.executable, "-m", "feedline.local.run_dag", f"feedline_{feed}", "--run-after", run_after, *extra],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600,
    )
    log = config.root / "logs" / f"run-{feed}-{run_after[:10]}.log"
    with log.open("a") as handle:
        handle.write(result.stdout)
    return result.stdout


def expected_from_file(contract, data: bytes):
    """What the reference validation says about a file: valid rows and reasons."""
    valid, reasons = [], collections.Counter()
    for _, outcome in validate_records(contract, iter_records(io.BytesIO(data))):
        if isinstance(outcome, RowError):
            reasons[outcome.key] += 1
        else:
            valid.append(outcome)
    return valid, reasons


def fingerprint(bq, table: str) -> str:
    result = bq.query(f"SELECT * FROM `{table}`").result()
    lines = sorted(repr(sorted(dict(r).items())) for r in result)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


@pytest.fixture
def clean(settings, contracts):
    reset(settings, contracts)


def test_transactions_dag_end_to_end_rerun_and_redrop(clean, local_stack, settings, contracts, gcs, bq):
    contract = contracts["transactions"]
    p = sql.template_params(settings, contract)
    data = (SAMPLES / "transactions_20261125.csv").read_bytes()
    valid, reasons = expected_from_file(contract, data)
    drop(gcs, settings, "transactions", "transactions_20261125.csv", data)

    log = dags_test(local_stack, "transactions", "2026-11-20T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]

    staged = rows(bq, f"SELECT COUNT(*) AS n, COUNT(DISTINCT transaction_id) AS keys FROM `{p['staging_table']}`")[0]
    assert staged == {"n": len(valid), "keys": len({v["transaction_id"] for v in valid})}
    dead = rows(bq, f"SELECT reason, COUNT(*) AS n FROM `{p['deadletter_table']}` GROUP BY reason")
    assert {r["reason"]: r["n"] for r in dead} == dict(reasons)
    sample_dead = rows(bq, f"SELECT raw_line, _line_number FROM `{p['deadletter_table']}` ORDER BY _line_number LIMIT 1")[0]
    assert sample_dead["raw_line"] == data.decode().splitlines(keepends=True)[sample_dead["_line_number"] - 1]
    audit = rows(bq, f"SELECT attempt, status, rows_read, rows_loaded, rows_deadletter FROM `{p['audit_table']}`")
    assert audit == [{"attempt": 0, "status": "loaded", "rows_read": len(valid) + sum(reasons.values()),
                      "rows_loaded": len(valid), "rows_deadletter": sum(reasons.values())}]
    totals = rows(bq, f"SELECT currency, transaction_count, total_amount FROM `{p['reporting_views'][0]}`")
    expected_totals = collections.defaultdict(lambda: [0, 0])
    for v in valid:
        from decimal import Decimal

        expected_totals[v["currency"]][0] += 1
        expected_totals[v["currency"]][1] += Decimal(v["amount"])
    assert {r["currency"]: [r["transaction_count"], r["total_amount"]] for r in totals} == dict(expected_totals)
    archived = [b.name for b in gcs.list_blobs(settings.archive_bucket)]
    assert len(archived) == 1 and archived[0].startswith("transactions/date=20261125/")

    staging_before, raw_before = fingerprint(bq, p["staging_table"]), fingerprint(bq, p["raw_table"])
    report_before = fingerprint(bq, p["reporting_views"][0])

    # re-run the same DAG run (same run id: the batch takes its archived files back)
    log = dags_test(local_stack, "transactions", "2026-11-20T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]
    assert fingerprint(bq, p["staging_table"]) == staging_before
    assert fingerprint(bq, p["raw_table"]) == raw_before
    attempts = rows(bq, f"SELECT batch_id, attempt, rows_loaded FROM `{p['audit_table']}` ORDER BY attempt")
    assert [a["attempt"] for a in attempts] == [0, 1] and len({a["batch_id"] for a in attempts}) == 1
    assert {a["rows_loaded"] for a in attempts} == {len(valid)}

    # the same file dropped again: a new batch, staging and reporting unchanged
    drop(gcs, settings, "transactions", "transactions_20261125.csv", data)
    log = dags_test(local_stack, "transactions", "2026-11-21T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]
    assert fingerprint(bq, p["staging_table"]) == staging_before
    assert fingerprint(bq, p["reporting_views"][0]) == report_before
    batches = rows(bq, f"SELECT DISTINCT batch_id FROM `{p['audit_table']}`")
    assert len(batches) == 2


def test_bad_header_is_quarantined_with_an_alert_and_good_files_go_on(clean, local_stack, settings, contracts, gcs, bq):
    p = sql.template_params(settings, contracts["customers"])
    drop(gcs, settings, "customers", "customers_20261126.csv", (SAMPLES / "customers_20261126.csv").read_bytes())
    drop(gcs, settings, "customers", "customers_20261126_crm-v2.csv",
         (SAMPLES / "customers_20261126_crm-v2.csv").read_bytes())
    alerts_before = len(read_alerts(local_stack.alerts_file))

    log = dags_test(local_stack, "customers", "2026-11-22T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]

    audit = rows(bq, f"SELECT source_file, status, reason FROM `{p['audit_table']}` ORDER BY source_file")
    assert audit == [
        {"source_file": "customers_20261126.csv", "status": "loaded", "reason": None},
        {"source_file": "customers_20261126_crm-v2.csv", "status": "quarantined",
         "reason": "header does not match the customers contract: missing email; unexpected e_mail"},
    ]
    assert rows(bq, f"SELECT COUNT(DISTINCT _source_file) AS n FROM `{p['raw_table']}`") == [{"n": 1}]
    quarantined = list(gcs.list_blobs(settings.quarantine_bucket, prefix="customers/"))
    assert [b.name.rsplit("/", 1)[-1] for b in quarantined] == ["customers_20261126_crm-v2.csv"]
    assert "unexpected e_mail" in quarantined[0].metadata["feedline-quarantine-reason"]
    texts = [a["payload"]["text"] for a in read_alerts(local_stack.alerts_file)[alerts_before:]]
    assert any("quarantined" in t and "customers_20261126_crm-v2.csv" in t and "unexpected e_mail" in t for t in texts)
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['staging_table']}`")[0]["n"] > 0


def test_deadletter_share_above_a_fail_threshold_stops_before_staging(clean, local_stack, settings, contracts, gcs, bq):
    p = sql.template_params(settings, contracts["transactions"])
    data = generate("transactions", 400, 0.2, seed=7, day=date(2026, 11, 24))
    drop(gcs, settings, "transactions", "transactions_20261124.csv", data)
    alerts_before = len(read_alerts(local_stack.alerts_file))

    log = dags_test(local_stack, "transactions", "2026-11-23T00:00:00+00:00")
    assert run_state(log) == "failed", log[-3000:]

    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['staging_table']}`") == [{"n": 0}]
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['raw_table']}`")[0]["n"] > 0  # raw keeps the evidence
    texts = [a["payload"]["text"] for a in read_alerts(local_stack.alerts_file)[alerts_before:]]
    assert any("deadletter share" in t and "stopped before staging" in t for t in texts), texts
    assert any("Feedline task failed" in t and "check_batch" in t for t in texts), texts
    # the files wait in processing for a decision: nothing archived, nothing lost
    assert list(gcs.list_blobs(settings.archive_bucket)) == []
    assert len(list(gcs.list_blobs(settings.landing_bucket, prefix="processing/transactions/"))) == 1


def test_a_backfill_day_reingests_its_archive_and_leaves_staging_and_reporting_as_they_were(
    clean, local_stack, settings, contracts, gcs, bq
):
    """What the first backfill tick of a day does (choose_source skips the day's other ticks:
    tests/unit/orchestrate/test_tasks.py): the day's archived files go through the whole batch again."""
    p = sql.template_params(settings, contracts["customers"])
    drop(gcs, settings, "customers", "customers_20261126.csv", (SAMPLES / "customers_20261126.csv").read_bytes())
    log = dags_test(local_stack, "customers", "2026-11-26T06:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]
    archived = names_in(gcs, settings.archive_bucket)
    assert len(archived) == 1 and archived[0].startswith("customers/date=20261126/")
    staging_before, report_before = fingerprint(bq, p["staging_table"]), fingerprint(bq, p["reporting_views"][0])
    first = rows(bq, f"SELECT batch_id, source_file, status, rows_read FROM `{p['audit_table']}`")

    conf = '{"from_archive": true, "date": "20261126"}'
    log = dags_test(local_stack, "customers", "2026-11-27T00:00:00+00:00", "--conf", conf)
    assert run_state(log) == "success", log[-3000:]

    assert fingerprint(bq, p["staging_table"]) == staging_before
    assert fingerprint(bq, p["reporting_views"][0]) == report_before
    audit = rows(bq, f"SELECT batch_id, source_file, status, rows_read FROM `{p['audit_table']}` ORDER BY batch_id")
    assert len(audit) == 2 and len({a["batch_id"] for a in audit}) == 2
    again = [a for a in audit if a["batch_id"] != first[0]["batch_id"]]
    assert [(a["source_file"], a["status"], a["rows_read"]) for a in again] == [
        (first[0]["source_file"], "loaded", first[0]["rows_read"])]
    assert names_in(gcs, settings.archive_bucket) == archived  # the archive keeps one copy
    assert names_in(gcs, settings.landing_bucket) == []  # nothing left in processing


def names_in(gcs, bucket: str) -> list[str]:
    return sorted(b.name for b in gcs.list_blobs(bucket))


def half_bad_file() -> tuple[bytes, list[bytes]]:
    """A customers file of 40 records, every other one rejected; the rejected records hold what
    a text column cannot keep (latin-1, invalid sequences, NUL, CR/LF in quotes, the text
    backslash-x), with mixed line ends. Returns (the file, its rejected records' bytes in order)."""
    ts = b",DE,2026-01-01,2026-12-01T10:00:00Z"
    bad_kinds = [
        lambda i: b"X%02d,x%d@example.com,Ren\xe9e" % (i, i) + ts + b"\n",  # not valid UTF-8
        lambda i: b"X%02d,not-an-email,Ren\\xe9e" % i + ts + b"\r\n",  # the text \xe9, bad email
        lambda i: b"X%02d,x%d@example.com,A\x00B" % (i, i) + ts + b"\r\n",  # NUL
        lambda i: b'X%02d,not-an-email,"two\r\nlines\rand more"' % i + ts + b"\r\n",  # line ends in quotes
        lambda i: b"X%02d,x%d@example.com,\xff\xfe\xed\xa0\x80\xc3" % (i, i) + ts + b"\r",  # invalid sequences
    ]
    data, bad = b"customer_id,email,full_name,country,signup_date,updated_at\r\n", []
    for i in range(20):
        data += b"H%02d,h%d@example.com,Half File" % (i, i) + ts + b"\r\n"
        bad.append(bad_kinds[i % len(bad_kinds)](i))
        data += bad[-1]
    return data, bad


def test_one_half_bad_file_among_clean_ones_is_named_in_the_alert_and_its_rejected_bytes_rebuild_it(
    clean, local_stack, settings, contracts, gcs, bq
):
    """Issue 9: a file with 50% bad rows in a batch below the threshold raised nothing, and
    deadletter text could not give back a line's bytes. customers: threshold 5%, warn."""
    contract = contracts["customers"]
    p = sql.template_params(settings, contract)
    half, half_bad = half_bad_file()
    files = {
        "customers_20261201_a.csv": generate("customers", 500, 0.0, seed=1, day=date(2026, 12, 1)),
        "customers_20261201_b.csv": generate("customers", 500, 0.0, seed=2, day=date(2026, 12, 1)),
        "customers_20261201_half.csv": half,
    }
    for name, data in files.items():
        drop(gcs, settings, "customers", name, data)
    alerts_before = len(read_alerts(local_stack.alerts_file))

    log = dags_test(local_stack, "customers", "2026-12-01T06:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]  # warn: the batch goes on

    audit = rows(bq, f"SELECT source_file, status, rows_read, rows_loaded, rows_deadletter FROM `{p['audit_table']}` "
                     "ORDER BY source_file")
    assert audit == [
        {"source_file": "customers_20261201_a.csv", "status": "loaded", "rows_read": 500, "rows_loaded": 500, "rows_deadletter": 0},
        {"source_file": "customers_20261201_b.csv", "status": "loaded", "rows_read": 500, "rows_loaded": 500, "rows_deadletter": 0},
        {"source_file": "customers_20261201_half.csv", "status": "loaded", "rows_read": 40, "rows_loaded": 20, "rows_deadletter": 20},
    ]
    texts = [a["payload"]["text"] for a in read_alerts(local_stack.alerts_file)[alerts_before:]]
    threshold_alerts = [t for t in texts if "deadletter share" in t]
    assert len(threshold_alerts) == 1, texts
    (alert,) = threshold_alerts
    assert "deadletter share of 1 file(s) in batch" in alert and "threshold 5.00% (batch: 1.92% (20 of 1040 rows))" in alert
    assert "• `customers_20261201_half.csv`: 50.00% (20 of 40 rows)" in alert and "the batch goes on" in alert
    assert "customers_20261201_a.csv" not in alert and "customers_20261201_b.csv" not in alert

    # The rejected records, read back from BigQuery in line order, are the file's bad lines byte for byte.
    dead = rows(bq, f"SELECT _source_file, _line_number, raw_bytes, raw_line, reason FROM `{p['deadletter_table']}` "
                    "ORDER BY _source_file, _line_number")
    assert {d["_source_file"] for d in dead} == {"customers_20261201_half.csv"}
    assert [d["raw_bytes"] for d in dead] == half_bad
    assert b"".join(d["raw_bytes"] for d in dead) == b"".join(half_bad)
    # and each sits where it was: its first line, counted in the file as the reader counts lines
    starts = [half.count(b"\n", 0, half.index(b)) + half.count(b"\r", 0, half.index(b)) - half.count(b"\r\n", 0, half.index(b)) + 1
              for b in half_bad]
    assert [d["_line_number"] for d in dead] == starts
    # raw_line alone could not have done it: a latin-1 é and the text \xe9 read the same there
    assert dead[0]["raw_line"].split(",")[2] == dead[1]["raw_line"].split(",")[2] == "Ren\\xe9e"
    assert dead[0]["raw_bytes"].split(b",")[2] != dead[1]["raw_bytes"].split(b",")[2]
    # the good half reached staging; the file is archived
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['staging_table']}` WHERE _source_file = @f",
                f="customers_20261201_half.csv") == [{"n": 20}]
    assert len([n for n in names_in(gcs, settings.archive_bucket) if n.endswith("_half.csv")]) == 1


# One customers run with every kind of name a drop can carry (issue 9). Each object ends loaded
# (its rows in staging) or quarantined (its object in quarantine with the reason, an audit row,
# a Slack alert); none is overwritten or lost. Object -> what it must end as.
DEEP = "/".join(["d" * 200] * 4)  # the emulator stores each path segment as a file: <= 255 bytes
HOSTILE = {
    "customers_20261201.csv": "loaded",
    "a/customers_20261201_same.csv": "collision",  # share a base name: both quarantined
    "b/customers_20261201_same.csv": "collision",
    "sub/customers_20261202.csv": "loaded",  # alone under a sub-folder
    "customers_٢٠٢٦١٢٠١_x.csv": "misnamed",  # Arabic-Indic digits
    "customers_20261201_a b 'q' \"d\".csv": "misnamed",
    "customers_20261201_`x`; DROP TABLE t; --.csv": "misnamed",
    "customers_20261201_😀é.csv": "misnamed",
    "customers_20261201_..x.csv": "loaded",  # ".." inside a name the pattern allows
    f"{DEEP}/customers_20261203_{'l' * 150}.csv": "loaded",  # a ~990-byte object name
    f"{'é' * 100}/{'é' * 100}/{'é' * 100}/{'é' * 100}/notes 😀.txt": "misnamed",  # quarantine name too long to keep
}


def test_hostile_names_end_loaded_or_quarantined_with_a_reason(clean, local_stack, settings, contracts, gcs, bq):
    import urllib.parse

    from feedline.storage import claims

    contract = contracts["customers"]
    p = sql.template_params(settings, contract)
    data = {rel: generate("customers", 30, 0.1, seed=i, day=date(2026, 12, 1)) for i, rel in enumerate(HOSTILE)}
    for rel in HOSTILE:
        drop(gcs, settings, "customers", rel, data[rel])
    alerts_before = len(read_alerts(local_stack.alerts_file))

    log = dags_test(local_stack, "customers", "2026-12-01T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]

    loaded = sorted(rel.rsplit("/", 1)[-1] for rel, end in HOSTILE.items() if end == "loaded")
    quarantined = sorted(rel for rel, end in HOSTILE.items() if end != "loaded")
    audit = rows(bq, f"SELECT source_file, status, reason FROM `{p['audit_table']}`")
    assert sorted(a["source_file"] for a in audit if a["status"] == "loaded") == loaded
    reasons = {a["source_file"]: a["reason"] for a in audit if a["status"] == "quarantined"}
    assert sorted(reasons) == quarantined
    same = ["customers/a/customers_20261201_same.csv", "customers/b/customers_20261201_same.csv"]
    for rel, end in HOSTILE.items():
        if end == "collision":
            assert all(repr(o) in reasons[rel] for o in same) and "share the file name" in reasons[rel], reasons[rel]
        elif end == "misnamed":
            assert "does not match the customers contract pattern" in reasons[rel]

    # loaded files: every valid row in raw under its own name, staging one row per key
    valid = {name: expected_from_file(contract, data[rel])[0] for rel in HOSTILE if (name := rel.rsplit("/", 1)[-1]) in loaded}
    raw = rows(bq, f"SELECT _source_file, COUNT(*) AS n FROM `{p['raw_table']}` GROUP BY _source_file")
    assert {r["_source_file"]: r["n"] for r in raw} == {name: len(v) for name, v in valid.items()}
    keys = {v["customer_id"] for vs in valid.values() for v in vs}
    assert rows(bq, f"SELECT COUNT(*) AS n, COUNT(DISTINCT customer_id) AS k FROM `{p['staging_table']}`") == [
        {"n": len(keys), "k": len(keys)}]

    # quarantined objects: each in quarantine, whole, with its reason and its landing name
    held = {urllib.parse.unquote(b.metadata[claims.LANDING_KEY]): b for b in gcs.list_blobs(settings.quarantine_bucket)}
    assert sorted(held) == sorted(f"customers/{rel}" for rel in quarantined)
    for rel in quarantined:
        blob = held[f"customers/{rel}"]
        # by name: the emulator's mediaLink leaves ';' unquoted (its download of the listed blob 404s)
        assert gcs.bucket(settings.quarantine_bucket).blob(blob.name).download_as_bytes() == data[rel]
        assert blob.metadata[claims.REASON_KEY] == claims.metadata_text(reasons[rel])
    assert [b.name for b in gcs.list_blobs(settings.landing_bucket)] == []  # nothing left behind
    assert len(list(gcs.list_blobs(settings.archive_bucket))) == len(loaded)

    texts = [a["payload"]["text"] for a in read_alerts(local_stack.alerts_file)[alerts_before:]]
    claim_alert = next(t for t in texts if "quarantined" in t and "share the file name" in t)
    for rel in quarantined:
        assert rel in claim_alert or json.dumps(rel, ensure_ascii=False) in claim_alert, rel


def md5_checksum(data: bytes) -> str:
    """What GCS (and the emulator) report as md5Hash, as claims.content_checksum names it."""
    import base64

    return "md5:" + base64.b64encode(hashlib.md5(data).digest()).decode()


def test_repeated_files_are_archived_as_duplicates_and_validated_again_only_when_forced(
    clean, local_stack, settings, contracts, gcs, bq
):
    """Issue 11 item 3: the demo's customers samples dropped twice; the second time the files
    that were ingested (under the same name or a new one) are not validated or loaded again."""
    p = sql.template_params(settings, contracts["customers"])
    first_files = ["customers_20261125.csv", "customers_20261126.csv", "customers_20261126_crm-v2.csv"]
    data = {name: (SAMPLES / name).read_bytes() for name in first_files}
    for name in first_files:
        drop(gcs, settings, "customers", name, data[name])

    def audit_of(batch_id: str) -> list[dict]:
        return rows(bq, f"SELECT attempt, source_file, status, rows_read, checksum, duplicate_of, reason "
                        f"FROM `{p['audit_table']}` WHERE batch_id = @b ORDER BY attempt, source_file", b=batch_id)

    def new_batch(*known: str) -> str:
        (batch_id,) = {r["batch_id"] for r in rows(bq, f"SELECT DISTINCT batch_id FROM `{p['audit_table']}`")} - set(known)
        return batch_id

    def raw_count() -> int:
        return rows(bq, f"SELECT COUNT(*) AS n FROM `{p['raw_table']}`")[0]["n"]

    log = dags_test(local_stack, "customers", "2026-12-05T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]
    first = new_batch()
    first_rows = audit_of(first)
    assert [(a["source_file"], a["status"]) for a in first_rows] == [
        ("customers_20261125.csv", "loaded"), ("customers_20261126.csv", "loaded"),
        ("customers_20261126_crm-v2.csv", "quarantined")]
    # every settled file's content is in the audit: GCS's MD5 of its bytes
    assert {a["source_file"]: a["checksum"] for a in first_rows} == {n: md5_checksum(d) for n, d in data.items()}
    raw_before, staging_before = raw_count(), fingerprint(bq, p["staging_table"])
    report_before = fingerprint(bq, p["reporting_views"][0])
    assert raw_before > 0
    alerts_before = len(read_alerts(local_stack.alerts_file))

    # The same bytes again, once under the same name and once under a new one: all duplicates.
    drop(gcs, settings, "customers", "customers_20261125.csv", data["customers_20261125.csv"])
    drop(gcs, settings, "customers", "customers_20261126_resent.csv", data["customers_20261126.csv"])
    log = dags_test(local_stack, "customers", "2026-12-06T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]
    second = new_batch(first)
    assert audit_of(second) == [
        {"attempt": 0, "source_file": "customers_20261125.csv", "status": "duplicate", "rows_read": None,
         "checksum": md5_checksum(data["customers_20261125.csv"]), "duplicate_of": first,
         "reason": f"same content as 'customers_20261125.csv', ingested in batch {first}"},
        {"attempt": 0, "source_file": "customers_20261126_resent.csv", "status": "duplicate", "rows_read": None,
         "checksum": md5_checksum(data["customers_20261126.csv"]), "duplicate_of": first,
         "reason": f"same content as 'customers_20261126.csv', ingested in batch {first}"},
    ]
    # not validated: no Beam output, no load table of the batch; raw, staging and reporting unchanged
    assert [n for n in names_in(gcs, settings.work_bucket) if n.startswith(naming.output_prefix("customers", second))] == []
    load_tables = [t.table_id for t in bq.list_tables(f"{settings.project}.{tables.dataset_names()['load']}")]
    assert not [t for t in load_tables if second in t], load_tables
    assert "every claimed file is a duplicate" in log
    assert raw_count() == raw_before
    assert fingerprint(bq, p["staging_table"]) == staging_before
    assert fingerprint(bq, p["reporting_views"][0]) == report_before
    # archived under the new batch (nothing left in landing), and said so on Slack
    assert sorted(n for n in names_in(gcs, settings.archive_bucket) if f"/{second}/" in n) == [
        f"customers/date=20261125/{second}/customers_20261125.csv",
        f"customers/date=20261126/{second}/customers_20261126_resent.csv"]
    assert names_in(gcs, settings.landing_bucket) == []
    texts = [a["payload"]["text"] for a in read_alerts(local_stack.alerts_file)[alerts_before:]]
    assert [t for t in texts if "duplicate" in t] == [t for t in texts if
                                                       f"2 duplicate file(s) skipped, first ingested in batch `{first}`" in t]
    assert len(texts) == 1, texts

    # Re-running that run keeps them duplicates of the first batch (never of its own).
    log = dags_test(local_stack, "customers", "2026-12-06T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]
    assert [(a["attempt"], a["status"], a["duplicate_of"]) for a in audit_of(second)] == [
        (0, "duplicate", first), (0, "duplicate", first), (1, "duplicate", first), (1, "duplicate", first)]
    assert raw_count() == raw_before

    # A mixed drop: a repeat, a new file, and the rejected file again (quarantined again at the
    # claim with the first batch's reason, not validated). Only the new file's rows reach raw.
    new = generate("customers", 25, 0.0, seed=11, day=date(2026, 12, 7))
    drop(gcs, settings, "customers", "customers_20261125.csv", data["customers_20261125.csv"])
    drop(gcs, settings, "customers", "customers_20261207.csv", new)
    drop(gcs, settings, "customers", "customers_20261126_crm-v2.csv", data["customers_20261126_crm-v2.csv"])
    log = dags_test(local_stack, "customers", "2026-12-07T00:00:00+00:00")
    assert run_state(log) == "success", log[-3000:]
    third = new_batch(first, second)
    assert [(a["source_file"], a["status"], a["duplicate_of"], a["rows_read"]) for a in audit_of(third)] == [
        ("customers_20261125.csv", "duplicate", first, None), ("customers_20261126_crm-v2.csv", "duplicate", first, None),
        ("customers_20261207.csv", "loaded", None, 25)]
    [crm] = [a for a in audit_of(third) if a["source_file"] == "customers_20261126_crm-v2.csv"]
    [first_crm] = [a for a in first_rows if a["source_file"] == "customers_20261126_crm-v2.csv"]
    assert crm["reason"] == (f"same content as 'customers_20261126_crm-v2.csv', quarantined in batch {first}: "
                             f"{first_crm['reason']} (force_reingest validates it again)")
    assert rows(bq, f"SELECT _source_file, COUNT(*) AS n FROM `{p['raw_table']}` WHERE _batch_id = @b GROUP BY 1",
                b=third) == [{"_source_file": "customers_20261207.csv", "n": 25}]
    assert raw_count() == raw_before + 25
    assert naming.quarantine_name("customers", third, "customers_20261126_crm-v2.csv") in names_in(
        gcs, settings.quarantine_bucket)
    staging_mixed = fingerprint(bq, p["staging_table"])

    # force_reingest: the same bytes are validated and loaded again; staging keeps one row per key.
    drop(gcs, settings, "customers", "customers_20261125.csv", data["customers_20261125.csv"])
    log = dags_test(local_stack, "customers", "2026-12-08T00:00:00+00:00", "--conf", '{"force_reingest": true}')
    assert run_state(log) == "success", log[-3000:]
    forced = new_batch(first, second, third)
    (row,) = audit_of(forced)
    assert (row["source_file"], row["status"], row["duplicate_of"]) == ("customers_20261125.csv", "loaded", None)
    assert row["rows_read"] == first_rows[0]["rows_read"] > 0  # validated again, as in the first batch
    assert row["checksum"] == md5_checksum(data["customers_20261125.csv"])
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['raw_table']}` WHERE _batch_id = @b", b=forced)[0]["n"] > 0
    assert fingerprint(bq, p["staging_table"]) == staging_mixed
    assert reconcile(bq, settings, contracts["customers"])["problems"] == []
