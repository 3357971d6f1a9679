"""ColumnarValidator: byte-for-byte the outputs of the row-by-row reference (tests/engines.py
compares both paths at several block sizes): generated feed files, gzip, random CSV, csv-spectrum."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedline.contract.model import load_contracts, parse_contract
from feedline.local.sample_data import generate

from engines import EVERYTHING, both_paths
from support import SPECTRUM, SPECTRUM_CASES as CASES, spectrum_expected as expected_records

CONTRACTS = load_contracts()


def data(name: str) -> bytes:
    return (SPECTRUM / "csvs" / f"{name}.csv").read_bytes()


@pytest.mark.parametrize("feed", ["customers", "transactions"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_generated_files_give_identical_outputs(feed, seed):
    data = generate(feed, 3000, 0.05, seed, date(2026, 11, 25))
    out = both_paths(CONTRACTS[feed], data, block_sizes=(1 << 20, 4099, 333))
    assert out.summary.rows_read == 3000 and out.summary.rows_deadletter > 0


@pytest.mark.parametrize("feed", ["customers", "transactions"])
def test_generated_gzip_files_give_identical_outputs(feed):
    data = gzip.compress(generate(feed, 2000, 0.05, 9, date(2026, 11, 26)))
    both_paths(CONTRACTS[feed], data, block_sizes=(1 << 20, 5000))


# --------------------------------------------------------------------------------------------
# Random CSV
# --------------------------------------------------------------------------------------------

ODD = ['"', '""', ",", "\n", "\r\n", "\r", " ", "\t", "\x00", "\\", "é", "\u3000", "\xa0", "\x1c", "😀", "\ufeff"]
VALUES = {
    "STRING": ["A1", "", " x ", "Ann", "a" * 11, "é" * 21, 'q"uote', "line\nbreak", "t\tab"],
    "email": ["ann@example.com", "a@b.c", "no-at", "a b@c.d", "é@x.io", " ann@example.com "],
    "country": ["GB", "US", "gb", "XX", " DE ", ""],
    "code": ["ABC", "abc", "ABCD", " XYZ "],
    "NUMERIC": ["12.50", "+1", "-0.5", "1,234.50", "1e5", "1.1234567891", "0" * 30, "١٢", "", " 7 "],
    "INT64": ["3", "+007", "-9223372036854775808", "9223372036854775808", "1.0", "x", ""],
    "FLOAT64": ["0.5", "1e3", "-.5E-2", "7.", "1e999", "nan", "inf", ""],
    "BOOL": ["true", "FALSE", "1", "0", "yes", "Tru", ""],
    "DATE": ["2026-11-25", "2024-02-29", "2026-02-29", "2026-02-30", "0000-01-01", "0001-01-01", "2026-1-1", ""],
    "TIMESTAMP": [
        "2026-11-25T10:00:00Z", "2026-11-25 10:00:00", "2026-11-25T10:00:00.5+01:00", "2026-11-25T10:00:00 UTC",
        "2026-11-25T23:30:00-0130", "2026-02-30T00:00:00Z", "2026-11-25T24:00:00Z", "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59.999999Z", "2026-11-25T10:00:00+24:00", "2026-11-25T10:00:00+05:99", "2026-11-25",
        "2026-11-25T10:00:00.1234567Z", "2026-11-25t10:00:00z", "",
    ],
}


def column_values(column) -> list[str]:
    if column.check == "email":
        return VALUES["email"]
    if column.allowed_values:
        return VALUES["country"]
    if column.pattern:
        return VALUES["code"]
    return VALUES[column.type]


@st.composite
def csv_files(draw):
    contract = draw(st.sampled_from([EVERYTHING, CONTRACTS["transactions"], CONTRACTS["customers"]]))
    names = list(contract.column_names)
    if draw(st.booleans()):
        names = draw(st.permutations(names))
    pools = {c.name: column_values(c) for c in contract.columns}
    rows = []
    for _ in range(draw(st.integers(0, 12))):
        row = [draw(st.sampled_from(pools[n])) for n in names]
        if draw(st.integers(0, 9)) == 0:  # a value with odd characters mixed in
            i = draw(st.integers(0, len(row) - 1))
            row[i] = row[i] + "".join(draw(st.lists(st.sampled_from(ODD), max_size=3)))
        width = draw(st.sampled_from([len(row)] * 8 + [len(row) - 1, len(row) + 1]))
        rows.append((row + ["extra"])[:width])
    out = io.StringIO()
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONNUMERIC]))
    writer = csv.writer(out, quoting=quoting, lineterminator=draw(st.sampled_from(["\n", "\r\n", "\r"])))
    writer.writerow(names)
    for row in rows:
        writer.writerow(row)
        if draw(st.integers(0, 7)) == 0:
            out.write(draw(st.sampled_from(["\n", "\r\n", "\r", "\n\n"])))
    data = out.getvalue().encode("utf-8", "surrogatepass")
    if data and draw(st.booleans()) and data.endswith(b"\n"):
        data = data.rstrip(b"\r\n")  # no line end after the last record
    for _ in range(draw(st.integers(0, 2))):  # raw damage: stray quotes, NUL, bytes that are not UTF-8
        where = draw(st.integers(0, len(data)))
        data = data[:where] + draw(st.sampled_from([b'"', b'""', b"\x00", b"\xff", b"\xc3", b",", b"\r"])) + data[where:]
    if draw(st.integers(0, 4)) == 0:
        data = b"\xef\xbb\xbf" + data
    if draw(st.integers(0, 5)) == 0:
        data = gzip.compress(data)
        if draw(st.booleans()):
            data = data[: draw(st.integers(0, len(data)))]
    block_sizes = (draw(st.integers(1, 64)), draw(st.integers(65, 4096)), 1 << 20)
    return contract, data, block_sizes


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(csv_files())
def test_random_csv_gives_identical_outputs(case):
    contract, data, block_sizes = case
    both_paths(contract, data, block_sizes=block_sizes)



@pytest.mark.parametrize("name", CASES)
def test_validation_outputs_match_the_reference(name):
    """Each file validated against a contract of its own header (all STRING columns): the
    columnar path's rows equal the reference's, and hold the expected values."""
    header = expected_records(name)[0].keys()
    columns = {h: f"c{i}" for i, h in enumerate(header)}
    renamed = data(name).replace(next(iter(data(name).splitlines())), ",".join(columns.values()).encode(), 1)
    contract = parse_contract(
        {
            "feed": "spectrum",
            "file_pattern": r"^spectrum_(?P<date>\d{8})\.csv$",
            "columns": [{"name": c, "type": "STRING", "required": i == 0} for i, c in enumerate(columns.values())],
            "key": ["c0"],
            "deadletter": {"threshold": 1},
        }
    )
    out = both_paths(contract, renamed, block_sizes=(1 << 20, 3, 1))
    assert out.deadletter == []
    values = [{h: row[c] for h, c in columns.items()} for row in out.valid_rows]
    # Validation trims values and reads empty ones as NULL (feedline.validate.rules).
    assert values == [{h: (v.strip() or None) for h, v in r.items()} for r in expected_records(name)]


@pytest.mark.parametrize("feed", ["customers", "transactions"])
def test_the_common_bad_rows_are_decided_without_the_reference(feed, monkeypatch):
    """Every defect sample_data makes (a missing value, a wrong field count, a malformed email,
    NUMERIC or timestamp, a value not allowed, a date that does not exist) is rejected by the
    vectorized checks, with the reference's reason: a file with bad rows costs what a clean one
    costs. Only odd rows (non-UTF-8, odd quoting, odd values) are left to the reference."""
    from feedline.validate.columnar import validator

    reference_rows = []
    real = validator.validate_record
    monkeypatch.setattr(validator, "validate_record", lambda *a: reference_rows.append(a[-1]) or real(*a))
    data = generate(feed, 3000, 0.1, 5, date(2026, 11, 25))
    out = both_paths(CONTRACTS[feed], data, block_sizes=(1 << 20, 4099))
    assert out.summary.rows_deadletter > 200 and len(out.summary.reasons) == 6
    assert reference_rows == []
