"""schema_drift through whole DAG runs (Airflow's DAG.test) against the emulators: a file whose
header differs from the contract ends as its contract's policy says, in the tables, the audit
and the Slack message."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from feedline.contract.model import load_contracts
from feedline.local import stack
from feedline.local.provision import provision
from feedline.local.slack_receiver import read_alerts
from feedline.orchestrate import sql
from support import contracts_dir, reset, rows, run_state

pytestmark = pytest.mark.airflow

EVOLVE_FEED = "customers_evolve"


def drift_contracts(tmp_path) -> str:
    """customers ignoring extra columns and loading missing ones as NULL, and a feed of its own
    (own tables: evolved columns stay out of the shared customers tables) that evolves."""
    folder = contracts_dir(tmp_path, customers={"schema_drift": {"extra_columns": "ignore", "missing_columns": "null"}})
    raw = yaml.safe_load(open(os.path.join(folder, "customers.yaml")))
    raw.update(feed=EVOLVE_FEED, file_pattern=r"^customers_evolve_(?P<date>\d{8})(?:_[A-Za-z0-9_.-]+)?\.csv$",
               reporting=[], schema_drift={"extra_columns": "evolve"})
    with open(os.path.join(folder, f"{EVOLVE_FEED}.yaml"), "w") as handle:
        yaml.safe_dump(raw, handle, sort_keys=False)
    return folder


def run(config, folder: str, feed: str, run_after: str) -> str:
    env = {**os.environ, **stack.service_env(config), "FEEDLINE_CONTRACTS_DIR": folder, "FEEDLINE_CONTRACTS_URI": folder}
    result = subprocess.run(
        [sys.executable, "-m", "feedline.local.run_dag", f"feedline_{feed}", "--run-after", run_after],
        env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600,
    )
    with (config.root / "logs" / f"run-{feed}-{run_after[:10]}.log").open("a") as handle:
        handle.write(result.stdout)
    assert run_state(result.stdout) == "success", result.stdout[-3000:]
    return result.stdout


def drop(gcs, settings, feed: str, name: str, text: str) -> None:
    gcs.bucket(settings.landing_bucket).blob(f"{feed}/{name}").upload_from_string(text.encode())


def new_alerts(config, before: int) -> list[str]:
    return [a["payload"]["text"] for a in read_alerts(config.alerts_file)[before:]]


@pytest.fixture
def folder(tmp_path, settings, contracts, local_stack):
    reset(settings, contracts)
    folder = drift_contracts(tmp_path)
    provision(settings, {EVOLVE_FEED: load_contracts(folder)[EVOLVE_FEED]})
    return folder


def test_ignored_extra_columns_and_missing_columns_loaded_as_null(folder, local_stack, settings, contracts, gcs, bq):
    p = sql.template_params(settings, contracts["customers"])
    drop(gcs, settings, "customers", "customers_20261126_a.csv",  # extra columns, another order
         "tier,updated_at,customer_id,Source System,email,full_name,country,signup_date\n"
         "gold,2026-11-26T10:00:00Z,A1,crm,a1@example.com,Ann,NL,2026-01-02\n"
         "silver,2026-11-26T11:00:00Z,A2,crm,a2@example.com,Bob,GB,2026-01-03\n")
    drop(gcs, settings, "customers", "customers_20261126_b.csv",  # full_name and signup_date missing
         "customer_id,email,country,updated_at\nB1,b1@example.com,DE,2026-11-26T12:00:00Z\n")
    drop(gcs, settings, "customers", "customers_20261126_c.csv",  # a renamed column: never ignored
         "customer_id,Email,full_name,country,signup_date,updated_at\nC1,c1@example.com,Cy,FR,,2026-11-26T13:00:00Z\n")
    before = len(read_alerts(local_stack.alerts_file))

    run(local_stack, folder, "customers", "2026-11-26T00:00:00+00:00")

    staged = rows(bq, f"SELECT customer_id, email, full_name, country, signup_date, _source_file FROM `{p['staging_table']}` ORDER BY 1")
    assert [(r["customer_id"], r["email"], r["full_name"], r["country"], str(r["signup_date"])) for r in staged] == [
        ("A1", "a1@example.com", "Ann", "NL", "2026-01-02"),
        ("A2", "a2@example.com", "Bob", "GB", "2026-01-03"),
        ("B1", "b1@example.com", None, "DE", "None"),
    ]
    raw_columns = {f.name for f in bq.get_table(p["raw_table"]).schema}
    assert "tier" not in raw_columns and "Source System" not in raw_columns
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['raw_table']}`") == [{"n": 3}]
    audit = rows(bq, f"SELECT source_file, status, rows_read, rows_loaded, reason, columns_added, columns_ignored, "
                     f"columns_nulled FROM `{p['audit_table']}` ORDER BY source_file")
    assert audit == [
        {"source_file": "customers_20261126_a.csv", "status": "loaded", "rows_read": 2, "rows_loaded": 2, "reason": None,
         "columns_added": None, "columns_ignored": '["tier","Source System"]', "columns_nulled": None},
        {"source_file": "customers_20261126_b.csv", "status": "loaded", "rows_read": 1, "rows_loaded": 1, "reason": None,
         "columns_added": None, "columns_ignored": None, "columns_nulled": '["full_name","signup_date"]'},
        {"source_file": "customers_20261126_c.csv", "status": "quarantined", "rows_read": 0, "rows_loaded": 0,
         "reason": "header does not match the customers contract: missing required email; "
                   "column 'Email' differs from the contract's 'email' only in case",
         "columns_added": None, "columns_ignored": None, "columns_nulled": None},
    ]
    texts = new_alerts(local_stack, before)
    assert len(texts) == 2 and "customers_20261126_c.csv" in texts[0] and "only in case" in texts[0]
    assert texts[1].endswith(
        "differs from the contract; loaded as its schema_drift says:\n"
        '• `customers_20261126_a.csv`: ignored (loaded nowhere): "tier", "Source System"\n'
        '• `customers_20261126_b.csv`: missing, loaded as NULL: "full_name", "signup_date"'
    )


def test_evolved_columns_reach_raw_and_staging_and_later_batches_carry_them(folder, local_stack, settings, gcs, bq):
    contract = load_contracts(folder)[EVOLVE_FEED]
    p = sql.template_params(settings, contract)
    drop(gcs, settings, EVOLVE_FEED, "customers_evolve_20261126_a.csv",  # two files, different extras
         "customer_id,email,full_name,country,signup_date,updated_at,tier\n"
         "A1,a1@example.com,Ann,NL,2026-01-02,2026-11-26T10:00:00Z,gold\n"
         "A2,a2@example.com,Bob,GB,2026-01-03,2026-11-26T11:00:00Z,\n")
    drop(gcs, settings, EVOLVE_FEED, "customers_evolve_20261126_b.csv",
         "referral_code,customer_id,email,full_name,country,signup_date,updated_at\n"
         "R-9,B1,b1@example.com,Bea,DE,2026-01-04,2026-11-26T12:00:00Z\n")
    drop(gcs, settings, EVOLVE_FEED, "customers_evolve_20261126_c.csv",  # no BigQuery column name
         "customer_id,email,full_name,country,signup_date,updated_at,Loyalty Tier\n"
         "C1,c1@example.com,Cy,FR,2026-01-05,2026-11-26T13:00:00Z,gold\n")
    before = len(read_alerts(local_stack.alerts_file))

    run(local_stack, folder, EVOLVE_FEED, "2026-11-26T00:00:00+00:00")

    for table in (p["raw_table"], p["staging_table"]):
        fields = {f.name: (f.field_type, f.mode) for f in bq.get_table(table).schema}
        assert fields["tier"] == fields["referral_code"] == ("STRING", "NULLABLE")
        assert not {"loyalty_tier", "Loyalty Tier"} & set(fields)
    query = "SELECT customer_id, tier, referral_code, _source_file FROM `{}` ORDER BY customer_id"
    expected = [("A1", "gold", None), ("A2", None, None), ("B1", None, "R-9")]
    assert [(r["customer_id"], r["tier"], r["referral_code"]) for r in rows(bq, query.format(p["raw_table"]))] == expected
    assert [(r["customer_id"], r["tier"], r["referral_code"]) for r in rows(bq, query.format(p["staging_table"]))] == expected
    audit = rows(bq, f"SELECT source_file, status, reason, columns_added FROM `{p['audit_table']}` ORDER BY source_file")
    assert audit == [
        {"source_file": "customers_evolve_20261126_a.csv", "status": "loaded", "reason": None, "columns_added": '["tier"]'},
        {"source_file": "customers_evolve_20261126_b.csv", "status": "loaded", "reason": None, "columns_added": '["referral_code"]'},
        {"source_file": "customers_evolve_20261126_c.csv", "status": "quarantined", "columns_added": None,
         "reason": f"header does not match the {EVOLVE_FEED} contract: column 'Loyalty Tier' cannot be added: "
                   "a new column's name must be lower_snake_case (a letter first, at most 63 characters)"},
    ]
    texts = new_alerts(local_stack, before)
    assert len(texts) == 2 and "Loyalty Tier" in texts[0]
    assert texts[1].endswith(
        '• `customers_evolve_20261126_a.csv`: added to raw and staging as NULLABLE STRING: "tier"\n'
        '• `customers_evolve_20261126_b.csv`: added to raw and staging as NULLABLE STRING: "referral_code"'
    )
    staging_before = rows(bq, f"SELECT * FROM `{p['staging_table']}` ORDER BY customer_id")
    raw_before = rows(bq, f"SELECT * FROM `{p['raw_table']}` ORDER BY customer_id")

    # the same run again: the columns exist, nothing changes
    run(local_stack, folder, EVOLVE_FEED, "2026-11-26T00:00:00+00:00")
    assert rows(bq, f"SELECT * FROM `{p['staging_table']}` ORDER BY customer_id") == staging_before
    assert rows(bq, f"SELECT * FROM `{p['raw_table']}` ORDER BY customer_id") == raw_before

    # a later batch without the extra columns: raw and staging carry them, as NULL (latest wins, whole)
    drop(gcs, settings, EVOLVE_FEED, "customers_evolve_20261127.csv",
         "customer_id,email,full_name,country,signup_date,updated_at\n"
         "A1,a1@example.com,Ann B,NL,2026-01-02,2026-11-27T10:00:00Z\n")
    run(local_stack, folder, EVOLVE_FEED, "2026-11-27T00:00:00+00:00")
    staged = rows(bq, query.format(p["staging_table"]))
    assert [(r["customer_id"], r["tier"], r["referral_code"], r["_source_file"]) for r in staged] == [
        ("A1", None, None, "customers_evolve_20261127.csv"),
        ("A2", None, None, "customers_evolve_20261126_a.csv"),
        ("B1", None, "R-9", "customers_evolve_20261126_b.csv"),
    ]
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['raw_table']}`") == [{"n": 4}]
