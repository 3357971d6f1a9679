"""A contract that changes under data already loaded, through whole DAG runs (`airflow dags
test`) against the emulators: an additive change is applied in place by provisioning and old- and
new-format files both load, nothing lost; a breaking change goes through a declared migration to
new tables, filled from the archive by a backfill run, the old tables left as they were.

The feed here (``members``) exists only in these tests' contracts folders, so the tables it
changes are its own."""

from __future__ import annotations

from dataclasses import replace

import pytest
import yaml

from feedline.contract import evolution, tables
from feedline.contract.model import REPOSITORY_CONTRACTS_DIR, load_contracts
from feedline.local.provision import provision
from feedline.orchestrate import sql
from feedline.settings import REPO_ROOT
from support import reset, rows, run_state
from integration.test_dag_runs import dags_test, drop

pytestmark = pytest.mark.airflow

SAMPLE = (REPO_ROOT / "samples" / "customers_20261126.csv").read_bytes()
NEW_COLUMN = {"name": "segment", "type": "STRING"}


def members_contract(**changes) -> dict:
    """The customers contract as another feed, without reporting views."""
    raw = yaml.safe_load((REPOSITORY_CONTRACTS_DIR / "customers.yaml").read_text())
    raw.update(feed="members", file_pattern=raw["file_pattern"].replace("customers_", "members_"), reporting=[],
               schedule=None)
    raw.update(changes)
    return raw


def write_contracts(folder, members: dict) -> dict:
    """The repository's contracts plus ``members``; returns them loaded."""
    folder.mkdir(exist_ok=True)
    for path in REPOSITORY_CONTRACTS_DIR.glob("*.yaml"):
        (folder / path.name).write_bytes(path.read_bytes())
    (folder / "members.yaml").write_text(yaml.safe_dump(members, sort_keys=False))
    return load_contracts(folder)


def with_segment(data: bytes, value: str) -> bytes:
    lines = data.decode().splitlines()
    return "\n".join([lines[0] + ",segment", *(line + f",{value}" for line in lines[1:])]).encode() + b"\n"


@pytest.fixture
def members_env(local_stack, settings, tmp_path, monkeypatch):
    """Point settings and every DAG run of the test at a contracts folder (rewritten as it goes)."""
    folder = tmp_path / "contracts"
    monkeypatch.setenv("FEEDLINE_CONTRACTS_DIR", str(folder))
    monkeypatch.setenv("FEEDLINE_CONTRACTS_URI", str(folder))
    yield folder
    for contract in (c for c in load_contracts(folder).values() if c.feed == "members"):
        for version in range(1, contract.version + 1):
            for spec in tables.table_specs(replace(contract, version=version)).values():
                _drop(settings, spec.table_id)


def _drop(settings, table_id: str) -> None:
    from feedline.local.provision import bigquery_client

    bigquery_client(settings.project).delete_table(f"{settings.project}.{table_id}", not_found_ok=True)


def test_a_new_nullable_column_is_added_in_place_and_old_and_new_files_both_load(
    local_stack, settings, contracts, members_env, gcs, bq
):
    reset(settings, contracts)
    v1 = write_contracts(members_env, members_contract())
    provision(settings, v1)
    p = sql.template_params(settings, v1["members"])
    drop(gcs, settings, "members", "members_20261126.csv", SAMPLE)
    assert run_state(log := dags_test(local_stack, "members", "2026-11-26T00:00:00+00:00")) == "success", log[-3000:]
    staged = {r["customer_id"]: r for r in rows(bq, f"SELECT * FROM `{p['staging_table']}`")}
    loaded = rows(bq, f"SELECT rows_loaded FROM `{p['audit_table']}`")[0]["rows_loaded"]
    assert len(staged) == loaded > 100

    # The contract gains a nullable column; files that lack it load it as NULL (drift policy).
    columns = [*members_contract()["columns"], NEW_COLUMN]
    v2 = write_contracts(members_env, members_contract(columns=columns, schema_drift={"missing_columns": "null"}))
    [change] = [c for c in evolution.classify_all(v1, v2) if c.feed == "members" and c.kind != evolution.RULES]
    assert (change.kind, change.what.split(":")[0]) == (evolution.ADDITIVE, "new nullable column segment STRING")
    added = provision(settings, v2)
    assert {f"{p['staging_table'].split('.', 1)[1]}.segment", f"{p['raw_table'].split('.', 1)[1]}.segment"} <= set(added)
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{p['staging_table']}`")[0]["n"] == loaded  # nothing lost

    old_format = SAMPLE.replace(b"C000", b"D000")  # other keys, the old header
    drop(gcs, settings, "members", "members_20261127.csv", old_format)
    drop(gcs, settings, "members", "members_20261127_new.csv", with_segment(SAMPLE.replace(b"C000", b"E000"), "gold"))
    assert run_state(log := dags_test(local_stack, "members", "2026-11-27T00:00:00+00:00")) == "success", log[-3000:]

    after = {r["customer_id"]: r for r in rows(bq, f"SELECT * FROM `{p['staging_table']}`")}
    assert len(after) == 3 * loaded
    for key, row in staged.items():  # the rows loaded before the change, as they were (segment NULL)
        assert after[key] == {**row, "segment": None}
    assert {r["segment"] for k, r in after.items() if k.startswith("D")} == {None}
    assert {r["segment"] for k, r in after.items() if k.startswith("E")} == {"gold"}
    audit = rows(bq, f"SELECT source_file, status, rows_read, rows_loaded FROM `{p['audit_table']}` ORDER BY source_file")
    assert [(a["source_file"], a["status"], a["rows_loaded"]) for a in audit] == [
        ("members_20261126.csv", "loaded", loaded), ("members_20261127.csv", "loaded", loaded),
        ("members_20261127_new.csv", "loaded", loaded),
    ]


def test_a_migration_makes_new_tables_a_backfill_fills_them_and_the_old_ones_stay(
    local_stack, settings, contracts, members_env, gcs, bq
):
    reset(settings, contracts)
    v1 = write_contracts(members_env, members_contract())
    provision(settings, v1)
    old = sql.template_params(settings, v1["members"])
    drop(gcs, settings, "members", "members_20261126.csv", SAMPLE)
    assert run_state(log := dags_test(local_stack, "members", "2026-11-26T00:00:00+00:00")) == "success", log[-3000:]
    old_staging = rows(bq, f"SELECT * FROM `{old['staging_table']}` ORDER BY customer_id")

    # signup_date DATE -> STRING cannot change in place: refused, then declared as a migration.
    columns = [{**c, "type": "STRING"} if c["name"] == "signup_date" else c for c in members_contract()["columns"]]
    breaking = write_contracts(members_env, members_contract(columns=columns))
    assert evolution.refusal(evolution.classify_all(v1, breaking), v1)
    v2 = write_contracts(members_env, members_contract(
        columns=columns, version=2, migration={"from_version": 1, "backfill_from": "2026-11-26"}))
    assert evolution.refusal(evolution.classify_all(v1, v2), v1) is None
    provision(settings, v2)
    new = sql.template_params(settings, v2["members"])
    assert new["staging_table"].endswith(".members_v2")

    conf = '{"from_archive": true, "date": "20261126"}'  # the backfill of the migration's first day
    assert run_state(log := dags_test(local_stack, "members", "2026-11-27T00:00:00+00:00", "--conf", conf)) == "success", log[-3000:]

    migrated = {r["customer_id"]: r for r in rows(bq, f"SELECT * FROM `{new['staging_table']}`")}
    for row in old_staging:  # every row of the old tables, signup_date now text
        assert migrated[row["customer_id"]]["signup_date"] == (
            None if row["signup_date"] is None else row["signup_date"].isoformat())
    # And the rows the old contract rejected for their date alone now load: each was in deadletter.
    extra = migrated.keys() - {r["customer_id"] for r in old_staging}
    rejected = rows(bq, f"SELECT raw_line FROM `{old['deadletter_table']}`")
    assert extra and all(any(key in r["raw_line"] for r in rejected) for key in extra), extra
    assert rows(bq, f"SELECT * FROM `{old['staging_table']}` ORDER BY customer_id") == old_staging  # untouched
    assert rows(bq, f"SELECT COUNT(*) AS n FROM `{new['audit_table']}`")[0]["n"] == 1
