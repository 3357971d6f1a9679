"""The contract loader: the two shipped contracts load, and each kind of broken contract is
rejected with a message naming the file and the field."""

from __future__ import annotations

import copy

import pytest
import yaml

from feedline.contract.model import ContractError, load_contract, load_contracts, parse_contract
from feedline.settings import REPO_ROOT

BASE = yaml.safe_load((REPO_ROOT / "contracts" / "transactions.yaml").read_text())


def broken(tmp_path, change) -> str:
    raw = copy.deepcopy(BASE)
    change(raw)
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(raw))
    return str(path)


def test_shipped_contracts_load(contracts):
    assert set(contracts) == {"customers", "transactions"}
    customers, transactions = contracts["customers"], contracts["transactions"]
    assert customers.column_names == ("customer_id", "email", "full_name", "country", "signup_date", "updated_at")
    assert customers.key == ("customer_id",) and customers.latest_by == "updated_at"
    assert transactions.partition_by.column == "transaction_ts" and transactions.cluster_by == ("customer_id",)
    assert transactions.on_exceed == "fail" and customers.on_exceed == "warn"
    assert "US" in customers.column("country").allowed_values
    assert "XX" not in customers.column("country").allowed_values


@pytest.mark.parametrize(
    "name, date",
    [
        ("customers_20261125.csv", "20261125"),
        ("customers_20261125.csv.gz", "20261125"),
        ("customers_20261125_crm-v2.csv", "20261125"),
        ("landing/customers/customers_20261125_part.1.csv", "20261125"),
        ("customers_2026112.csv", None),
        ("customers_20261125.txt", None),
        ("transactions_20261125.csv", None),
        ("Customers_20261125.csv", None),
        ("customers_٢٠٢٦١١٢٥.csv", None),  # Arabic-Indic digits match no \d
        ("customers_２０２６１１２５.csv", None),  # fullwidth digits
    ],
)
def test_file_name_pattern(contracts, name, date):
    assert contracts["customers"].file_date(name) == date
    assert contracts["customers"].matches_file_name(name) is (date is not None)


def test_a_date_group_that_is_not_eight_ascii_digits_matches_no_file_whatever_the_pattern():
    contract = parse_contract({**copy.deepcopy(BASE), "file_pattern": "^transactions_(?P<date>[^_.]{8})\\.csv$"})
    assert contract.file_date("transactions_20261125.csv") == "20261125"
    assert not contract.matches_file_name("transactions_٢٠٢٦١١٢٥.csv")
    assert not contract.matches_file_name("transactions_2026-11-.csv")


@pytest.mark.parametrize(
    "change, field, message",
    [
        (lambda r: r["columns"][2].update(type="MONEY"), "columns[amount].type", "unknown type 'MONEY'"),
        (lambda r: r["columns"].append({"name": "amount", "type": "NUMERIC"}), "columns", "duplicate column 'amount'"),
        (lambda r: r.update(key=["txn_id"]), "key", "'txn_id' is not a column"),
        (lambda r: r.update(partition_by={"column": "booked_at"}), "partition_by.column", "not a column"),
        (lambda r: r.update(partition_by={"column": "amount"}), "partition_by.column", "DATE or TIMESTAMP"),
        (lambda r: r.update(cluster_by=["nope"]), "cluster_by", "'nope' is not a column"),
        (lambda r: r.update(latest_by="nope"), "latest_by", "not a column"),
        (lambda r: r.update(file_pattern="^transactions_(\\d{8}.csv$"), "file_pattern", "not a valid regular expression"),
        (lambda r: r.update(file_pattern="^transactions_\\d{8}\\.csv$"), "file_pattern", "(?P<date>"),
        (lambda r: r.update(file_pattern="transactions_(?P<date>\\d{8})"), "file_pattern", "anchored"),
        (lambda r: r.update(file_pattern="(?u)^transactions_(?P<date>\\d{8})\\.csv$"), "file_pattern",
         "ASCII and UNICODE flags are incompatible"),
        (lambda r: r.update(file_pattern="^transactions_(?P<date>[0-9٠-٩]{8})\\.csv$"), "file_pattern",
         "ASCII digits only"),
        (lambda r: r.update(deadletter={"threshold": 1.5}), "deadletter.threshold", "between 0 and 1"),
        (lambda r: r.update(deadletter={"threshold": 0.1, "on_exceed": "page"}), "deadletter.on_exceed", "'page'"),
        (lambda r: r.update(feed="Transactions!"), "feed", "lower_snake_case"),
        (lambda r: r.update(colums=[]), "colums", "unknown field"),
        (lambda r: r["columns"][0].update(required="yes"), "columns[transaction_id].required", "true or false"),
        (lambda r: r["columns"][0].update(required=False), "key", "must be required"),
        (lambda r: r["columns"][3].update(allowed_values="iso9999"), "columns[currency].allowed_values", "unknown value set"),
        (lambda r: r["columns"][2].update(allowed_values=["1"]), "columns[amount]", "STRING columns only"),
        (lambda r: r.update(columns=[]), "columns", "at least one column"),
        (lambda r: r.update(reporting=[{"name": "Bad-Name"}]), "reporting", "not a valid view name"),
        (lambda r: r.update(deadline_minutes=0), "deadline_minutes", "above 0"),
        (lambda r: r.update(deadline_minutes="2h"), "deadline_minutes", "'2h' must be a number of minutes"),
        (lambda r: r.update(deadline_minutes=True), "deadline_minutes", "must be a number"),
        (lambda r: r.update(deadline_minutes=20000), "deadline_minutes", "at most a week"),
        (lambda r: r.update(feed="processing"), "feed", "reserved"),
    ],
)
def test_broken_contract_names_file_and_field(tmp_path, change, field, message):
    path = broken(tmp_path, change)
    with pytest.raises(ContractError) as error:
        load_contract(path)
    assert str(error.value).startswith(f"{path}: {field}: "), str(error.value)
    assert message in str(error.value)


def test_deadline_minutes_defaults_to_two_hours_and_takes_fractions(tmp_path):
    assert load_contract(broken(tmp_path, lambda r: None)).deadline_minutes == 120
    assert load_contract(broken(tmp_path, lambda r: r.update(deadline_minutes=0.25))).deadline_minutes == 0.25


def test_not_yaml_and_not_a_mapping(tmp_path):
    (tmp_path / "a.yaml").write_text("feed: [unclosed")
    with pytest.raises(ContractError, match="a.yaml: not valid YAML"):
        load_contract(tmp_path / "a.yaml")
    (tmp_path / "b.yaml").write_text("- just\n- a list\n")
    with pytest.raises(ContractError, match="b.yaml: a contract is a mapping"):
        load_contract(tmp_path / "b.yaml")


def test_two_files_for_one_feed_are_rejected(tmp_path):
    for name in ("one.yaml", "two.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump(BASE))
    with pytest.raises(ContractError, match="two.yaml: feed: 'transactions' is already defined in .*one.yaml"):
        load_contracts(tmp_path)


def test_a_third_feed_is_one_more_file(tmp_path):
    for path in (REPO_ROOT / "contracts").glob("*.yaml"):
        (tmp_path / path.name).write_text(path.read_text())
    orders = {**copy.deepcopy(BASE), "feed": "orders", "file_pattern": "^orders_(?P<date>\\d{8})\\.csv$"}
    (tmp_path / "orders.yaml").write_text(yaml.safe_dump(orders))
    assert sorted(load_contracts(tmp_path)) == ["customers", "orders", "transactions"]


def test_contracts_come_from_the_directory_the_caller_names_not_the_environment(tmp_path, monkeypatch):
    from feedline.contract import model

    monkeypatch.setenv("FEEDLINE_CONTRACTS_DIR", str(tmp_path))  # read by feedline.settings only
    assert model.REPOSITORY_CONTRACTS_DIR == REPO_ROOT / "contracts"
    assert sorted(load_contracts()) == sorted(p.stem for p in (REPO_ROOT / "contracts").glob("*.yaml"))
    assert load_contracts(tmp_path) == {}


def test_schema_drift_defaults_to_quarantine_and_takes_each_policy(contracts):
    from feedline.contract.model import SchemaDrift

    assert {c.schema_drift for c in contracts.values()} == {SchemaDrift("quarantine", "quarantine")}
    for extra in ("quarantine", "ignore", "evolve"):
        for missing in ("quarantine", "null"):
            raw = {**copy.deepcopy(BASE), "schema_drift": {"extra_columns": extra, "missing_columns": missing}}
            assert parse_contract(raw).schema_drift == SchemaDrift(extra, missing)
    assert parse_contract({**copy.deepcopy(BASE), "schema_drift": {"missing_columns": "null"}}).schema_drift == (
        SchemaDrift("quarantine", "null"))


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("evolve", "schema_drift: must be a mapping with extra_columns and/or missing_columns"),
        ({"extra_columns": "add"}, "schema_drift.extra_columns: 'add' is not one of quarantine, ignore, evolve"),
        ({"missing_columns": "ignore"}, "schema_drift.missing_columns: 'ignore' is not one of quarantine, null"),
        ({"extra": "ignore"}, "schema_drift.extra: unknown field; expected extra_columns or missing_columns"),
    ],
)
def test_a_bad_schema_drift_is_a_clear_error(tmp_path, value, message):
    path = broken(tmp_path, lambda raw: raw.update(schema_drift=value))
    with pytest.raises(ContractError) as exc:
        load_contract(path)
    assert str(exc.value) == f"{path}: {message}"
