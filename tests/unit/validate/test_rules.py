"""Row validation (the reference path) and ``feedline validate``."""

from __future__ import annotations

import gzip
import io
import json

import pytest

from feedline import cli
from feedline.validate.csvio import FileRejected, iter_records
from feedline.settings import REPO_ROOT
from feedline.validate.rules import RowError, parse_value, summarize_file, validate_records
from support import write

HEADER = "transaction_id,customer_id,amount,currency,status,transaction_ts\r\n"


def outcomes(contract, text: str) -> list:
    stream = io.BytesIO(text.encode("utf-8", "surrogateescape"))
    return [outcome for _, outcome in validate_records(contract, iter_records(stream))]


@pytest.mark.parametrize(
    "column, text, value",
    [
        ("amount", "12.50", "12.50"),
        ("amount", " +7 ", "7"),
        ("transaction_ts", "2026-11-25T10:00:00Z", "2026-11-25T10:00:00.000000Z"),
        ("transaction_ts", "2026-11-25 10:00:00", "2026-11-25T10:00:00.000000Z"),
        ("transaction_ts", "2026-11-25T12:00:00.5+02:00", "2026-11-25T10:00:00.500000Z"),
        ("currency", "", None),
    ],
)
def test_values_parse(contracts, column, text, value):
    assert parse_value(contracts["transactions"].column(column), text) == value


@pytest.mark.parametrize(
    "column, text, reason",
    [
        ("amount", "1,234.50", "not a plain decimal NUMERIC"),
        ("amount", "1e3", "not a plain decimal NUMERIC"),
        ("amount", "", "required value is missing"),
        ("currency", "usd", "not an allowed value"),
        ("transaction_ts", "2026-02-30T00:00:00Z", "timestamp does not exist"),
        ("transaction_ts", "25/11/2026", "not a TIMESTAMP (ISO 8601)"),
        ("transaction_id", "x" * 65, "longer than 64 characters"),
    ],
)
def test_values_rejected_with_reason(contracts, column, text, reason):
    from feedline.validate.rules import ValueInvalid

    with pytest.raises(ValueInvalid, match=f"^{reason.replace('(', '.').replace(')', '.')}$"):
        parse_value(contracts["transactions"].column(column), text)


def test_customer_checks(contracts):
    customers = contracts["customers"]
    from feedline.validate.rules import ValueInvalid

    assert parse_value(customers.column("signup_date"), "2024-02-29") == "2024-02-29"
    for column, text, reason in [
        ("signup_date", "2026-02-30", "date does not exist"),
        ("email", "ana at example.com", "not an email address"),
        ("country", "XX", "not an allowed value"),
    ]:
        with pytest.raises(ValueInvalid, match=reason):
            parse_value(customers.column(column), text)


def test_rows_by_header_name_in_any_order(contracts):
    text = "status,transaction_ts,amount,currency,customer_id,transaction_id\n" "settled,2026-11-25T10:00:00Z,5,EUR,C1,T1\n"
    [row] = outcomes(contracts["transactions"], text)
    assert row == {
        "transaction_id": "T1", "customer_id": "C1", "amount": "5", "currency": "EUR",
        "status": "settled", "transaction_ts": "2026-11-25T10:00:00.000000Z",
    }


def test_each_bad_row_gets_its_first_reason(contracts):
    text = HEADER + "T1,C1,5,EUR,settled\r\n" + "T2,,x,XXX,lost,nope\r\n" + "T3,C1,1,EUR,settled,2026-01-01T00:00:00Z,extra\r\n"
    first, second, third = outcomes(contracts["transactions"], text)
    assert first == RowError("wrong number of fields: expected 6")
    assert second == RowError("required value is missing", "customer_id")
    assert second.key == "customer_id: required value is missing"
    assert third.reason == "wrong number of fields: expected 6"


@pytest.mark.parametrize(
    "text, reason",
    [
        ("", "empty file: no header"),
        ("transaction_id,customer_id,amount,currency,status,booked_at\n", "missing transaction_ts; unexpected booked_at"),
        (HEADER.replace("status", "amount"), "duplicate column names: amount"),
    ],
)
def test_file_level_rejections(contracts, text, reason):
    with pytest.raises(FileRejected, match=reason):
        outcomes(contracts["transactions"], text)


def test_summary_counts_every_row(contracts):
    sample = REPO_ROOT / "samples" / "transactions_20261125.csv"
    with open(sample, "rb") as stream:
        summary = summarize_file(contracts["transactions"], stream)
    lines = [line for line in sample.read_text().splitlines()[1:] if line]
    assert summary.rows_read == len(lines) == summary.rows_valid + summary.rows_deadletter
    assert summary.rows_deadletter == sum(summary.reasons.values()) > 0
    assert summary.partition_min == summary.partition_max == "2026-11-25"


def run_cli(capsys, *argv) -> tuple[int, str]:
    code = cli.main(list(argv))
    return code, capsys.readouterr().out


def test_validate_json_accepted_file(capsys, tmp_path):
    sample = (REPO_ROOT / "samples" / "customers_20261125.csv").read_bytes()
    path = write(tmp_path / "customers_20261125.csv.gz", gzip.compress(sample))
    code, out = run_cli(capsys, "validate", str(path), "--json")
    report = json.loads(out)
    assert code == 0
    assert report["feed"] == "customers" and report["file_error"] is None
    assert report["rows_read"] == report["rows_valid"] + report["rows_deadletter"] == 300
    assert report["deadletter_share"] == round(report["rows_deadletter"] / 300, 6)
    assert report["threshold_exceeded"] is True  # the sample is made 6% bad; threshold 5%
    assert sum(report["reasons"].values()) == report["rows_deadletter"]
    assert set(report) >= {"feed", "rows_read", "rows_valid", "rows_deadletter", "deadletter_share",
                           "threshold_exceeded", "file_error", "reasons"}


def test_validate_rejected_files_exit_1(capsys, tmp_path):
    code, out = run_cli(capsys, "validate", str(REPO_ROOT / "samples" / "customers_20261126_crm-v2.csv"), "--json")
    assert code == 1 and "unexpected e_mail" in json.loads(out)["file_error"]
    code, out = run_cli(capsys, "validate", str(write(tmp_path / "orders_20261125.csv", "a\n1\n")), "--json")
    assert code == 1 and "no feed contract matches" in json.loads(out)["file_error"]
    code, out = run_cli(capsys, "validate", str(tmp_path / "customers_20261125.csv"), "--feed", "customers")
    assert code == 1 and "cannot read the file" in out
    code, out = run_cli(capsys, "validate", str(write(tmp_path / "x.csv", "a\n")), "--feed", "orders", "--json")
    assert code == 1 and "unknown feed 'orders'" in json.loads(out)["file_error"]


def test_validate_usage_errors_exit_2(capsys):
    assert cli.main(["validate"]) == 2
    assert cli.main(["validate", "x.csv", "--bogus"]) == 2
    assert cli.main([]) == 2


def test_summary_partition_days_widen_and_ignore_missing_days():
    from feedline.validate.rules import FileSummary

    summary = FileSummary("f")
    summary.include_days(None, None)
    assert (summary.partition_min, summary.partition_max) == (None, None)
    summary.include_days("2026-01-05", "2026-01-07")
    summary.include_days("2026-01-06", None)
    summary.include_days("2026-01-01", "2026-01-02")
    assert (summary.partition_min, summary.partition_max) == ("2026-01-01", "2026-01-07")
    summary.add({"day": "2026-02-01T10:00:00.000000Z"}, "day")
    assert summary.partition_max == "2026-02-01" and summary.rows_valid == 1
