"""Every input quirk of issue 3 has a defined outcome, the same through the row-by-row reference
and the columnar path (``both_paths`` checks their decoded values at several block sizes).

The decisions are documented in the docstring of the feedline.validate.columnar package (and csvio/rules).
The Beam job runs the same files in test_pipeline.py.
"""

from __future__ import annotations

import gzip
from datetime import date, datetime
from decimal import Decimal

import pytest

from feedline.contract.model import load_contracts
from feedline.validate.csvio import FIELD_SIZE_LIMIT

from engines import EVERYTHING, EVERYTHING_HEADER, both_paths

GOOD = "A1,Ann,ann@example.com,GB,ABC,12.50,3,0.5,true,2026-11-25,2026-11-25T10:00:00Z"
TX = load_contracts()["transactions"]
TX_HEADER = "transaction_id,customer_id,amount,currency,status,transaction_ts"
TX_GOOD = "ID1,C1,10.00,EUR,settled,2026-11-25T10:00:00Z"
ts, day = datetime.fromisoformat, date.fromisoformat  # the typed values the outputs hold
TYPED = {"amount": Decimal, "day": day, "ts": ts}


def everything(*rows: str, eol: str = "\n", header: str = EVERYTHING_HEADER) -> bytes:
    return (eol.join([header, *rows]) + eol).encode("utf-8")


def test_a_plain_good_row_is_typed_as_the_raw_table_expects():
    out = both_paths(EVERYTHING, everything(GOOD))
    (row,) = out.valid_rows
    assert row == {
        "_batch_id": "b_1", "_ingested_at": ts("2026-11-27T08:15:00.000000Z"), "_source_file": "feed_20261127.csv",
        "_line_number": 2, "id": "A1", "name": "Ann", "email": "ann@example.com", "country": "GB", "code": "ABC",
        "amount": Decimal("12.50"), "qty": 3, "ratio": 0.5, "active": True, "day": day("2026-11-25"),
        "ts": ts("2026-11-25T10:00:00.000000Z"),
    }
    assert (out.summary.rows_read, out.summary.rows_valid, out.summary.rows_deadletter) == (1, 1, 0)
    assert (out.summary.partition_min, out.summary.partition_max) == ("2026-11-25", "2026-11-25")


def test_utf8_bom_is_dropped_at_the_start_of_the_file_only():
    out = both_paths(EVERYTHING, b"\xef\xbb\xbf" + everything(GOOD, "A2,\ufeffBo" + GOOD[6:]))
    assert [r["name"] for r in out.valid_rows] == ["Ann", "\ufeffBo"]  # a BOM inside is data


def test_bom_before_a_gzip_stream_is_data_and_the_header_then_does_not_match():
    out = both_paths(EVERYTHING, gzip.compress(b"\xef\xbb\xbf" + everything(GOOD)))
    assert out.summary.file_error is None and out.summary.rows_valid == 1  # BOM inside the gzip: dropped


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_line_ends_lf_crlf_and_cr(eol):
    out = both_paths(EVERYTHING, everything(GOOD, GOOD.replace("A1", "A2"), eol=eol))
    assert [r["_line_number"] for r in out.valid_rows] == [2, 3]


def test_mixed_line_ends_each_end_a_line():
    data = (EVERYTHING_HEADER + "\r\n" + GOOD + "\n" + GOOD.replace("A1", "A2") + "\r" + GOOD.replace("A1", "A3")).encode()
    out = both_paths(EVERYTHING, data)
    assert [(r["id"], r["_line_number"]) for r in out.valid_rows] == [("A1", 2), ("A2", 3), ("A3", 4)]


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
def test_quoted_newlines_stay_in_the_value_and_the_record_keeps_its_first_line(newline):
    row = GOOD.replace(",Ann,", f',"Ann{newline}c/o Accounts",')
    out = both_paths(EVERYTHING, everything(row, GOOD.replace("A1", "A2")))
    first, second = out.valid_rows
    assert first["name"] == f"Ann{newline}c/o Accounts" and first["_line_number"] == 2
    assert second["_line_number"] == 4  # the quoted newline is a physical line


def test_escaped_quotes_and_quoted_commas():
    row = GOOD.replace(",Ann,", ',"Ann ""the, Great""",')
    out = both_paths(EVERYTHING, everything(row))
    assert out.valid_rows[0]["name"] == 'Ann "the, Great"'


def test_blank_and_trailing_empty_lines_are_not_records_but_count_as_lines():
    data = (EVERYTHING_HEADER + "\n\n" + GOOD + "\r\n\r\n\n" + GOOD.replace("A1", "A2") + "\n\n\n\r\n").encode()
    out = both_paths(EVERYTHING, data)
    assert [r["_line_number"] for r in out.valid_rows] == [3, 6]
    assert out.summary.rows_read == 2


def test_a_line_of_spaces_is_a_record_with_the_wrong_number_of_fields():
    out = both_paths(EVERYTHING, everything(GOOD, "   "))
    assert out.reasons == {3: "wrong number of fields: expected 11"}


def test_extra_or_missing_columns_on_a_row():
    out = both_paths(EVERYTHING, everything(GOOD + ",extra", GOOD.rsplit(",", 1)[0], GOOD))
    assert out.reasons == {2: "wrong number of fields: expected 11", 3: "wrong number of fields: expected 11"}
    assert out.deadletter_rows[0]["raw_line"] == GOOD + ",extra\n"
    assert out.deadletter_rows[0]["column_name"] is None
    assert out.summary.reasons == {"wrong number of fields: expected 11": 2}


def test_header_in_another_order_is_accepted_by_name():
    names = EVERYTHING_HEADER.split(",")
    values = GOOD.split(",")
    order = list(reversed(range(len(names))))
    data = everything(",".join(values[i] for i in order), header=",".join(names[i] for i in order))
    out = both_paths(EVERYTHING, data)
    assert out.valid_rows[0]["id"] == "A1" and out.valid_rows[0]["ts"] == ts("2026-11-25T10:00:00Z")


@pytest.mark.parametrize(
    "header, reason",
    [
        (EVERYTHING_HEADER.replace("qty", "quantity"),
         "header does not match the everything contract: missing qty; unexpected quantity"),
        (EVERYTHING_HEADER + ",qty", "header has duplicate column names: qty"),
        (EVERYTHING_HEADER.replace("name", "id"), "header has duplicate column names: id"),
        (EVERYTHING_HEADER.upper(), "header does not match the everything contract: missing "
         + ", ".join(EVERYTHING.column_names) + "; unexpected " + EVERYTHING_HEADER.upper().replace(",", ", ")),
    ],
)
def test_header_with_other_or_duplicate_names_rejects_the_file(header, reason):
    out = both_paths(EVERYTHING, everything(GOOD, header=header))
    assert out.summary.file_error == reason and out.valid == [] and out.deadletter == []


def test_header_names_are_trimmed_like_values():
    out = both_paths(EVERYTHING, everything(GOOD, header=EVERYTHING_HEADER.replace(",name,", ", name ,")))
    assert out.summary.file_error is None and out.summary.rows_valid == 1


def test_bytes_that_are_not_utf8_deadletter_the_row_and_show_as_escapes():
    data = everything(GOOD).replace(b"Ann", b"Ren\xe9e") + (GOOD.replace("A1", "A2") + "\n").encode()
    out = both_paths(EVERYTHING, data)
    assert out.reasons == {2: "not valid UTF-8"}
    assert "Ren\\xe9e" in out.deadletter_rows[0]["raw_line"]
    assert out.summary.rows_valid == 1


def test_a_latin1_header_rejects_the_file():
    out = both_paths(EVERYTHING, everything(GOOD).replace(b"name", b"n\xe4me", 1))
    assert out.summary.file_error.startswith("header does not match")


def test_nul_bytes_deadletter_the_row():
    out = both_paths(EVERYTHING, everything(GOOD.replace("Ann", "A\x00nn"), GOOD.replace("A1", "A2")))
    assert out.reasons == {2: "contains a NUL byte"}
    assert out.deadletter_rows[0]["raw_line"] == GOOD.replace("Ann", "A\x00nn") + "\n"


def test_value_longer_than_the_column_limit():
    out = both_paths(EVERYTHING, everything(GOOD.replace("A1", "A" * 11), GOOD.replace("Ann", "é" * 20)))
    assert out.reasons == {2: "id: longer than 10 characters"}  # 20 characters of é are 40 bytes: fine
    assert out.valid_rows[0]["name"] == "é" * 20


@pytest.mark.parametrize("quoted", [False, True])
def test_field_longer_than_the_field_size_limit_rejects_the_file(quoted):
    big = "x" * (FIELD_SIZE_LIMIT + 1)
    field = f'"{big}"' if quoted else big
    data = everything(GOOD, GOOD.replace(",Ann,", f",{field},"), GOOD)
    out = both_paths(EVERYTHING, data, block_sizes=(1 << 20, 1 << 24))
    assert out.summary.file_error == f"unparseable CSV at line 3: field larger than field limit ({FIELD_SIZE_LIMIT})"
    assert out.summary.rows_read == 1  # the row before it; the file is quarantined whole


def test_unclosed_quote_swallows_the_rest_of_the_file_into_one_record():
    data = everything(GOOD, GOOD.replace(",Ann,", ',"Ann,'), GOOD.replace("A1", "A3"))
    out = both_paths(EVERYTHING, data)
    assert out.reasons == {3: "wrong number of fields: expected 11"}
    assert out.deadletter_rows[0]["raw_line"].endswith("2026-11-25T10:00:00Z\n")


def test_odd_quoting_is_read_as_pythons_csv_module_reads_it():
    rows = [
        GOOD.replace(",Ann,", ',Ann "the" Great,'),  # quotes inside an unquoted value: literal
        GOOD.replace(",Ann,", ',"Ann"the,'),  # text after a closing quote: appended
        GOOD.replace(",Ann,", ',"Ann" ,'),  # a space after the closing quote
        GOOD.replace(",Ann,", ',5\'10",'),  # an inch mark
    ]
    out = both_paths(EVERYTHING, everything(*rows, GOOD.replace("A1", "A9")))
    assert [r["name"] for r in out.valid_rows] == ['Ann "the" Great', "Annthe", "Ann", '5\'10"', "Ann"]


def test_leading_and_trailing_whitespace_is_trimmed_as_str_strip_does():
    row = "  A1\t,\u3000Ann\xa0, ann@example.com ,GB\x1c, ABC ,  12.50 , 3 , 0.5 , true , 2026-11-25 , 2026-11-25T10:00:00Z "
    out = both_paths(EVERYTHING, everything(row))
    (valid,) = out.valid_rows
    assert (valid["id"], valid["name"], valid["country"], valid["amount"], valid["qty"]) == ("A1", "Ann", "GB", Decimal("12.5"), 3)


def test_inner_whitespace_is_kept_and_checked():
    out = both_paths(EVERYTHING, everything(GOOD.replace("ann@example.com", "ann @example.com")))
    assert out.reasons == {2: "email: not an email address"}


def test_empty_strings_quoted_or_not_are_null_and_required_ones_are_missing():
    nullable = "A1,,\"\",,\"\",,,,,,2026-11-25T10:00:00Z"
    out = both_paths(EVERYTHING, everything(nullable, ',Ann,ann@example.com,GB,ABC,1,1,1,1,2026-11-25,2026-11-25T10:00:00Z',
                                            'A3,Ann,ann@example.com,GB,ABC,1,1,1,1,2026-11-25,"  "'))
    (valid,) = out.valid_rows
    assert all(valid[c] is None for c in ("name", "email", "country", "code", "amount", "qty", "ratio", "active", "day"))
    assert out.reasons == {3: "id: required value is missing", 4: "ts: required value is missing"}
    assert out.deadletter_rows[0]["column_name"] == "id"


@pytest.mark.parametrize(
    "column, text, expected",
    [
        ("amount", '"1,234.50"', "amount: not a plain decimal NUMERIC"),
        ("amount", "1e5", "amount: not a plain decimal NUMERIC"),
        ("amount", "1.2345678901", "amount: not a plain decimal NUMERIC"),
        ("amount", "١٢٣", "amount: not a plain decimal NUMERIC"),  # Arabic-Indic digits
        ("qty", '"1,000"', "qty: not an INT64"),
        ("qty", "9223372036854775808", "qty: not an INT64"),
        ("qty", "1.0", "qty: not an INT64"),
        ("ratio", "1,5", "wrong number of fields: expected 11"),
        ("ratio", "1e999", "ratio: FLOAT64 out of range"),
        ("ratio", "nan", "ratio: not a FLOAT64"),
        ("active", "yes", "active: not a BOOL (true/false/1/0)"),
        ("day", "2026-02-30", "day: date does not exist"),
        ("day", "2026-02-29", "day: date does not exist"),
        ("day", "0000-01-01", "day: date does not exist"),
        ("day", "2026-1-01", "day: not a DATE (YYYY-MM-DD)"),
        ("day", "25/11/2026", "day: not a DATE (YYYY-MM-DD)"),
        ("ts", "2026-02-30T10:00:00Z", "ts: timestamp does not exist"),
        ("ts", "2026-11-25T24:00:00Z", "ts: timestamp does not exist"),
        ("ts", "2026-11-25T10:00:60Z", "ts: timestamp does not exist"),
        ("ts", "2026-11-25T10:00:00+24:00", "ts: timestamp does not exist"),
        ("ts", "0001-01-01T00:00:00+01:00", "ts: timestamp out of range"),
        ("ts", "9999-12-31T23:59:59-00:01", "ts: timestamp out of range"),
        ("ts", "2026-11-25", "ts: not a TIMESTAMP (ISO 8601)"),
        ("ts", "2026-11-25T10:00Z", "ts: not a TIMESTAMP (ISO 8601)"),
        ("ts", "2026-11-25T10:00:00.1234567Z", "ts: not a TIMESTAMP (ISO 8601)"),
        ("ts", "2026-11-25T10:00:00 CET", "ts: not a TIMESTAMP (ISO 8601)"),
        ("country", "gb", "country: not an allowed value"),
        ("code", "ABCD", "code: does not match the column's pattern"),
        ("email", "ann.example.com", "email: not an email address"),
    ],
)
def test_values_the_contract_rejects(column, text, expected):
    values = dict(zip(EVERYTHING.column_names, GOOD.split(",")))
    values[column] = text
    out = both_paths(EVERYTHING, everything(",".join(values.values())))
    assert out.reasons == {2: expected}


@pytest.mark.parametrize(
    "column, text, value",
    [
        ("amount", "+12.50", "12.50"),
        ("amount", "-0.000000001", "-0.000000001"),
        ("amount", "12", "12"),
        ("amount", "0" * 29 + ".5", "0" * 29 + ".5"),
        ("qty", "+007", 7),
        ("qty", "-9223372036854775808", -9223372036854775808),
        ("ratio", "1e3", 1000.0),
        ("ratio", "-.5E-2", -0.005),
        ("ratio", "7.", 7.0),
        ("active", "FALSE", False),
        ("active", "1", True),
        ("day", "2024-02-29", "2024-02-29"),
        ("day", "0001-01-01", "0001-01-01"),
        ("ts", "2026-11-25 10:00:00", "2026-11-25T10:00:00.000000Z"),
        ("ts", "2026-11-25T10:00:00z", "2026-11-25T10:00:00.000000Z"),
        ("ts", "2026-11-25 10:00:00 UTC", "2026-11-25T10:00:00.000000Z"),
        ("ts", "2026-11-25T10:00:00.5Z", "2026-11-25T10:00:00.500000Z"),
        ("ts", "2026-11-25T10:00:00.123456", "2026-11-25T10:00:00.123456Z"),
        ("ts", "2026-11-25T01:30:00+02:00", "2026-11-24T23:30:00.000000Z"),
        ("ts", "2026-11-25T23:30:00-0130", "2026-11-26T01:00:00.000000Z"),
        ("ts", "2026-11-25T10:00:00+05:99", "2026-11-25T03:21:00.000000Z"),  # Python reads 5h99m
        ("ts", "2024-02-29T12:00:00.000001+00:00", "2024-02-29T12:00:00.000001Z"),
        ("ts", "0001-01-01T00:30:00-00:30", "0001-01-01T01:00:00.000000Z"),
        ("ts", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
        ("email", "émile@exämple.fr", "émile@exämple.fr"),
        ("name", 'say "hi"\\ \t', 'say "hi"\\'),
    ],
)
def test_values_the_contract_accepts(column, text, value):
    values = dict(zip(EVERYTHING.column_names, GOOD.split(",")))
    values[column] = '"' + text.replace('"', '""') + '"'
    out = both_paths(EVERYTHING, everything(",".join(values.values())))
    assert out.reasons == {}
    assert out.valid_rows[0][column] == TYPED.get(column, lambda v: v)(value)


def test_timestamps_with_and_without_zone_set_the_partition_days_in_utc():
    rows = [TX_GOOD.replace("2026-11-25T10:00:00Z", ts) for ts in
            ("2026-11-25T00:30:00+01:00", "2026-11-26 12:00:00", "2026-11-27T23:30:00-01:00")]
    out = both_paths(TX, (TX_HEADER + "\n" + "\n".join(rows) + "\n").encode())
    assert [r["transaction_ts"] for r in out.valid_rows] == [
        ts("2026-11-24T23:30:00Z"), ts("2026-11-26T12:00:00Z"), ts("2026-11-28T00:30:00Z")]
    assert (out.summary.partition_min, out.summary.partition_max) == ("2026-11-24", "2026-11-28")


def tx_file(rows: int) -> bytes:
    lines = [TX_HEADER] + [f"T{i},C{i % 7},{i}.25,EUR,settled,2026-11-25T10:00:{i % 60:02d}Z" for i in range(rows)]
    return ("\r\n".join(lines) + "\r\n").encode()


@pytest.mark.parametrize("cut", [10, 60, 200, 1000, 4000, -30, -8, -1])
def test_truncated_gzip_rejects_the_file_after_the_rows_before_the_break(cut):
    whole = gzip.compress(tx_file(3000))
    out = both_paths(TX, whole[:cut], block_sizes=(1 << 20, 4096, 97))
    assert out.summary.file_error.startswith("unreadable compressed file at line ")
    assert "Compressed file ended before the end-of-stream marker was reached" in out.summary.file_error


def test_corrupt_gzip_rejects_the_file():
    whole = bytearray(gzip.compress(tx_file(3000)))
    whole[len(whole) // 2] ^= 0xFF
    out = both_paths(TX, bytes(whole), block_sizes=(1 << 20, 4096))
    assert out.summary.file_error.startswith("unreadable compressed file at line ")


def test_whole_gzip_reads_like_the_plain_file():
    plain = both_paths(TX, tx_file(2000))
    zipped = both_paths(TX, gzip.compress(tx_file(2000)), block_sizes=(1 << 20, 4096))
    assert zipped.valid == plain.valid and zipped.summary == plain.summary


@pytest.mark.parametrize(
    "data, reason",
    [(b"", "empty file: no header"), (b"\n\r\n\n", "empty file: no header"),
     (b"\xef\xbb\xbf", "empty file: no header"), (gzip.compress(b""), "empty file: no header")],
)
def test_empty_files_are_rejected(data, reason):
    out = both_paths(TX, data)
    assert out.summary.file_error == reason and out.summary.rows_read == 0


@pytest.mark.parametrize("data", [TX_HEADER.encode(), (TX_HEADER + "\r\n").encode(), (TX_HEADER + "\n\n\n").encode()])
def test_header_only_files_are_accepted_with_no_rows(data):
    out = both_paths(TX, data)
    assert out.summary.file_error is None and out.summary.rows_read == 0 and out.valid == []


def test_the_last_record_may_lack_a_line_end():
    out = both_paths(TX, (TX_HEADER + "\n" + TX_GOOD + "\n" + TX_GOOD.replace("ID1", "ID2")).encode())
    assert [r["transaction_id"] for r in out.valid_rows] == ["ID1", "ID2"]


def test_json_escapes_in_values_match_json_dumps():
    tricky = ['back\\slash', 'tab\there', 'bell\x07', 'quote"d', "uni\u2028code", "del\x7f", "é€😀"]
    rows = [GOOD.replace(",Ann,", "," + '"' + t.replace('"', '""') + '"' + ",").replace("A1", f"A{i}")
            for i, t in enumerate(tricky)]
    out = both_paths(EVERYTHING, everything(*rows))
    assert [r["name"] for r in out.valid_rows] == tricky
