"""Contract evolution: each kind of change is classified; a breaking one is refused by
`feedline contracts check` (which `make test` runs on the repository's contracts, below) unless
the contract declares a migration; `feedline contracts diff` reads two git revisions."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from feedline import cli
from feedline.contract import evolution
from feedline.contract.evolution import ADDITIVE, BREAKING, MIGRATION, RULES
from feedline.contract.model import REPOSITORY_CONTRACTS_DIR, load_contracts, parse_contract


def customers(**changes) -> dict:
    raw = yaml.safe_load((REPOSITORY_CONTRACTS_DIR / "customers.yaml").read_text())
    return {**raw, **changes}


def with_column(raw: dict, name: str, **fields) -> dict:
    columns = [dict(c) for c in raw["columns"]]
    for column in columns:
        if column["name"] == name:
            column.update(fields)
    return {**raw, "columns": columns}


def kinds(old: dict, new: dict) -> list[tuple[str, str]]:
    changes = evolution.classify("customers", parse_contract(old), parse_contract(new))
    return [(c.kind, c.what.split(":")[0]) for c in changes]


BASE = customers()


@pytest.mark.parametrize("new, expected", [
    ({**BASE, "columns": [*BASE["columns"], {"name": "segment", "type": "STRING"}]},
     [(ADDITIVE, "new nullable column segment STRING")]),
    (with_column(BASE, "email", required=False), [(ADDITIVE, "column email no longer required")]),
    (with_column(BASE, "country", allowed_values=["DE", "FR"]),
     [(RULES, "column country no longer allows AD, AE, AF, AG, AI, AL, AM, AO and 239 more")]),
    ({**BASE, "reporting": [*BASE["reporting"], {"name": "customers_by_signup"}]},
     [(ADDITIVE, "new reporting view customers_by_signup")]),
    ({**BASE, "cluster_by": ["signup_date"]}, [(ADDITIVE, "clustering ['country'] -> ['signup_date']")]),
    (with_column(BASE, "signup_date", type="STRING"), [(BREAKING, "column signup_date type DATE -> STRING")]),
    ({**BASE, "columns": [c for c in BASE["columns"] if c["name"] != "full_name"]},
     [(BREAKING, "column full_name removed (or renamed)")]),
    ({**BASE, "columns": [*BASE["columns"], {"name": "segment", "type": "STRING", "required": True}]},
     [(BREAKING, "new column segment is required")]),
    (with_column(BASE, "full_name", required=True), [(BREAKING, "column full_name becomes required")]),
    ({**BASE, "key": ["email"], "columns": BASE["columns"]}, [(BREAKING, "key ['customer_id'] -> ['email']")]),
    ({**BASE, "partition_by": {"column": "signup_date"}}, [(BREAKING, "partitioning None -> Partitioning(column='signup_date', granularity='DAY')")]),
    ({**BASE, "reporting": []}, [(BREAKING, "reporting view customers_by_country removed")]),
    (with_column(BASE, "full_name", max_length=100), [(RULES, "column full_name max_length 200 -> 100")]),
    ({**BASE, "deadletter": {"threshold": 0.2}}, [(RULES, "deadletter_threshold 0.05 -> 0.2")]),
    (BASE, []),
], ids=lambda v: v[0][1] if isinstance(v, list) and v else None)
def test_each_change_is_classified(new, expected):
    assert kinds(BASE, new) == expected


def test_a_new_allowed_value_is_additive():
    old = with_column(BASE, "country", allowed_values=["DE", "FR"])
    assert kinds(old, with_column(BASE, "country", allowed_values=["DE", "FR", "IT"])) == [
        (ADDITIVE, "column country allows IT")
    ]


def test_a_declared_migration_turns_a_breaking_change_into_new_tables_and_a_backfill():
    changed = with_column(BASE, "signup_date", type="STRING")
    migrated = {**changed, "version": 2, "migration": {"from_version": 1, "backfill_from": "2026-01-01"}}
    [change] = evolution.classify("customers", parse_contract(BASE), parse_contract(migrated))
    assert change.kind == MIGRATION
    assert "feedline_staging.customers_v2" in change.what
    assert "terraform state rm" in change.what and 'table["customers.staging"]' in change.what
    assert "--from-date 2026-01-01" in change.what
    # A version raised without saying from where is refused.
    [refused] = evolution.classify("customers", parse_contract(BASE), parse_contract({**changed, "version": 2}))
    assert refused.kind == BREAKING and "without migration" in refused.what


def test_a_lock_record_reads_back_as_the_same_contract():
    contracts = load_contracts()
    assert evolution.read_lock(evolution.lock_text(contracts)) == contracts


def test_the_repository_contracts_match_their_lock(capsys):
    """The check CI runs: a breaking change to contracts/ without a migration, or a table change
    not recorded with `feedline contracts lock`, fails here with what breaks and what to do."""
    status = cli.main(["contracts", "check", str(REPOSITORY_CONTRACTS_DIR)])
    out = capsys.readouterr()
    assert status == cli.EXIT_OK, out.out + out.err


@pytest.fixture
def contracts_copy(tmp_path):
    folder = tmp_path / "contracts"
    shutil.copytree(REPOSITORY_CONTRACTS_DIR, folder)
    return folder


def edit(path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_check_refuses_a_breaking_change_and_says_how_to_declare_the_migration(contracts_copy, capsys):
    edit(contracts_copy / "transactions.yaml", "{name: amount, type: NUMERIC", "{name: amount, type: STRING")
    assert cli.main(["contracts", "check", str(contracts_copy)]) == cli.EXIT_REJECTED
    err = capsys.readouterr().err
    assert "column amount type NUMERIC -> STRING" in err
    assert "version: 2 and migration: {from_version: 1, backfill_from: YYYY-MM-DD}" in err
    # lock refuses it too, and leaves the lock as it was
    before = (contracts_copy / cli.LOCK_FILE).read_text()
    assert cli.main(["contracts", "lock", str(contracts_copy)]) == cli.EXIT_REJECTED
    assert (contracts_copy / cli.LOCK_FILE).read_text() == before

    with (contracts_copy / "transactions.yaml").open("a") as handle:
        handle.write("version: 2\nmigration: {from_version: 1, backfill_from: 2026-01-01}\n")
    assert cli.main(["contracts", "check", str(contracts_copy)]) == cli.EXIT_REJECTED  # not locked yet
    assert "run `feedline contracts lock`" in capsys.readouterr().err
    assert cli.main(["contracts", "lock", str(contracts_copy)]) == cli.EXIT_OK
    assert cli.main(["contracts", "check", str(contracts_copy)]) == cli.EXIT_OK


def test_an_additive_change_passes_once_locked(contracts_copy, capsys):
    edit(contracts_copy / "customers.yaml", "  - {name: signup_date, type: DATE}\n",
         "  - {name: signup_date, type: DATE}\n  - {name: segment, type: STRING}\n")
    assert cli.main(["contracts", "check", str(contracts_copy)]) == cli.EXIT_REJECTED
    assert "customers: additive: new nullable column segment STRING" in capsys.readouterr().out
    assert cli.main(["contracts", "lock", str(contracts_copy)]) == cli.EXIT_OK
    assert cli.main(["contracts", "check", str(contracts_copy)]) == cli.EXIT_OK


def test_diff_reads_two_git_revisions(tmp_path, monkeypatch, capsys):
    repo = tmp_path / "repo"
    shutil.copytree(REPOSITORY_CONTRACTS_DIR, repo / "contracts")
    git = lambda *args: subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True)  # noqa: E731
    git("init", "-q")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "one", "--allow-empty")
    git("add", "contracts")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qm", "contracts")
    edit(repo / "contracts" / "customers.yaml", "  - {name: full_name, type: STRING, max_length: 200}\n", "")
    git("-c", "user.email=t@example.com", "-c", "user.name=t", "commit", "-qam", "drop full_name")
    monkeypatch.chdir(repo)

    assert cli.main(["contracts", "diff", "HEAD~1", "HEAD"]) == cli.EXIT_REJECTED
    assert "customers: breaking: column full_name removed" in capsys.readouterr().out
    assert cli.main(["contracts", "diff", "HEAD~1:contracts/transactions.yaml", "contracts/transactions.yaml"]) == 0
