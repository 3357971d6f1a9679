"""The columnar path produces exactly the reference's outputs: on generated feed files, on
files split into ranges, and on random CSV (hypothesis) full of the quirks real exports have."""

from __future__ import annotations

import csv
import gzip
import io
import random
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedline.validate.columnar import WHOLE_FILE, ColumnarValidator, format_utc_micros, open_range, plan_ranges, PY_WHITESPACE
from feedline.contract.model import load_contracts
from feedline.validate.outputs import merge_summaries
from feedline.local.sample_data import generate

from engines import EVERYTHING, STAMP, both_paths, collect, row_path

CONTRACTS = load_contracts()


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


@pytest.mark.parametrize("feed", ["customers", "transactions"])
@pytest.mark.parametrize("range_bytes", [4000, 25_000, 1 << 30])
def test_ranges_cover_every_record_once_and_merge_to_the_whole_file(feed, range_bytes):
    data = generate(feed, 3000, 0.05, 4, date(2026, 11, 25))
    contract = CONTRACTS[feed]
    ranges = plan_ranges(io.BytesIO(data), len(data), contract, range_bytes, block_size=7000)
    assert len(ranges) == (1 if range_bytes > len(data) else max(2, len(data) // range_bytes) - 0) or len(ranges) > 1
    assert ranges[0].start == 0 and ranges[-1].end is None
    assert all(a.end == b.start for a, b in zip(ranges, ranges[1:]))
    validator = ColumnarValidator(contract, block_size=5000)
    parts, lines = [], {"valid": [], "deadletter": []}
    for file_range in ranges:
        stream = io.BytesIO(data)
        out = collect(validator.validate(open_range(stream, file_range), STAMP, file_range))
        parts.append((file_range.index, out.summary))
        lines["valid"] += out.valid
        lines["deadletter"] += out.deadletter
    reference = row_path(contract, data)
    assert merge_summaries(contract.feed, parts) == reference.summary
    assert sorted(lines["valid"]) == reference.valid and sorted(lines["deadletter"]) == reference.deadletter


def test_ranges_never_start_inside_a_quoted_newline():
    rows = ["id,name,email,country,signup_date,updated_at"]
    for i in range(400):
        rows.append(f'C{i},n{i}@x.io,"line one\nline two\r\nline, three",GB,2026-01-01,2026-01-01T00:00:00Z')
    data = "\n".join(rows).replace("id,name", "customer_id,email", 1).replace(",email,country", ",full_name,country", 1)
    data = data.encode()
    contract = CONTRACTS["customers"]
    ranges = plan_ranges(io.BytesIO(data), len(data), contract, 1000, block_size=777)
    assert len(ranges) > 10
    for file_range in ranges[1:]:
        assert data[file_range.start : file_range.start + 1] == b"C"
        assert data[file_range.start - 1 : file_range.start] == b"\n"
        assert data[: file_range.start].count(b'"') % 2 == 0


@pytest.mark.parametrize(
    "data",
    [b"", b"x" * 100, gzip.compress(b"a,b\n1,2\n" * 1000)],
    ids=["empty", "no-header-line-end", "gzip"],
)
def test_files_that_are_small_gzipped_or_odd_are_one_range(data):
    assert plan_ranges(io.BytesIO(data), len(data), CONTRACTS["transactions"], 10) == [WHOLE_FILE]


def test_a_bad_header_is_not_split():
    data = b"wrong,header\n" + b"1,2\n" * 5000
    assert plan_ranges(io.BytesIO(data), len(data), CONTRACTS["transactions"], 1000) == [WHOLE_FILE]


def test_python_whitespace_is_exactly_what_str_strip_removes():
    import sys

    assert PY_WHITESPACE == "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


def test_utc_formatting_matches_python_datetime_over_the_whole_range():
    from datetime import datetime, timedelta, timezone

    import numpy as np

    rng = random.Random(5)
    low, high = -62135596800 * 10**6, 253402300800 * 10**6 - 1
    micros = [low, high, 0, -1, 951782400 * 10**6] + [rng.randint(low, high) for _ in range(20000)]
    expected = [
        (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=m)).strftime("%m-%dT%H:%M:%S.%fZ")
        for m in micros
    ]
    years = [(datetime(1970, 1, 1) + timedelta(microseconds=m)).year for m in micros]
    got = format_utc_micros(np.array(micros, dtype=np.int64)).to_pylist()
    assert got == [f"{y:04d}-{e}" for y, e in zip(years, expected)]


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


@pytest.mark.parametrize(
    "raw, column, reason",
    [("a,b\r\n", None, "wrong number of fields: expected 6"), ('x,"q""uote",\udce9\n', "name", "not valid UTF-8"),
     ("é😀\t\x00\u2028\n", "ts", "ts: timestamp does not exist"), ("", None, "")],
)
def test_deadletter_lines_are_dumps_of_the_deadletter_row(raw, column, reason):
    from feedline.validate.csvio import Record
    from feedline.validate.outputs import DeadletterLines, deadletter_row, dumps
    from feedline.validate.rules import RowError

    record = Record(7, raw, [])
    error = RowError(reason.split(": ", 1)[-1], column) if column else RowError(reason)
    assert DeadletterLines(STAMP)(record, error) == dumps(deadletter_row(record, error, STAMP))
