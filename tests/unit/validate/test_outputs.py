"""Output lines: dumps, deadletter lines, chunks, summaries."""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from decimal import Decimal

import pyarrow as pa
import pytest


from feedline.validate.csvio import Record
from feedline.validate.outputs import (
    VALID,
    ChunkBuffer,
    conform,
    deadletter_row,
    deadletter_schema,
    deadletter_table,
    dumps,
    merge_summaries,
    printable,
    raw_bytes,
    rows_table,
    summary_row,
    valid_schema,
)
from feedline.validate.rules import FileSummary, RowError

from engines import EVERYTHING, STAMP


@pytest.mark.parametrize(
    "raw, column, reason",
    [("a,b\r\n", None, "wrong number of fields: expected 6"), ('x,"q""uote",\udce9\n', "name", "not valid UTF-8"),
     ("é😀\t\x00\u2028\n", "ts", "ts: timestamp does not exist"), ("", None, "")],
)
def test_a_deadletter_table_holds_the_deadletter_rows_values(raw, column, reason):
    record = Record(7, raw, [])
    error = RowError(reason.split(": ", 1)[-1], column) if column else RowError(reason)
    row = deadletter_row(record, error, STAMP)
    table = deadletter_table([row])
    assert table.schema == deadletter_schema() and table.to_pylist() == [row]
    assert row["_ingested_at"] == datetime(2026, 11, 27, 8, 15, tzinfo=timezone.utc)


def test_raw_bytes_are_the_records_bytes_and_printable_is_not_reversible():
    for data in (b"a\xffb\r\n", b"Ren\\xe9e\n", b"\x00\xed\xa0\x80", b""):
        text = data.decode("utf-8", "surrogateescape")  # as csvio reads it
        assert raw_bytes(text) == data
    assert printable("Ren\udce9e") == printable("Ren\\xe9e")  # the reason raw_bytes exists


def test_printable_shows_undecodable_bytes():
    assert printable(b"a\xffb".decode("utf-8", "surrogateescape")) == "a\\xffb"
    assert printable("é") == "é"


def test_chunk_buffer_hands_out_full_chunks_then_the_rest():
    schema = pa.schema([pa.field("a", pa.int64())])
    buffer = ChunkBuffer(schema, size=2)
    assert buffer.add(VALID, {"a": 1}) is None
    chunk = buffer.add(VALID, {"a": 2})
    assert chunk.output == VALID and chunk.count == 2 and chunk.rows() == [{"a": 1}, {"a": 2}]
    buffer.add(VALID, {"a": 3})
    assert [(c.output, c.rows()) for c in buffer.flush()] == [(VALID, [{"a": 3}])]
    assert list(buffer.flush()) == []


def test_the_output_types_are_bigquerys_exact_ones():
    schema = valid_schema(EVERYTHING, ["zz_new"])
    types = {f.name: f.type for f in schema}
    assert types["amount"] == pa.decimal128(38, 9)
    assert types["ts"] == pa.timestamp("us", tz="UTC") and types["day"] == pa.date32()
    assert schema.names[-5:] == ["_batch_id", "_source_file", "_line_number", "_ingested_at", "zz_new"]
    assert not schema.field("_batch_id").nullable and schema.field("amount").nullable


def test_rows_table_converts_the_references_text_values_exactly():
    schema = pa.schema([("n", pa.decimal128(38, 9)), ("t", pa.timestamp("us", tz="UTC")), ("d", pa.date32())])
    row = {"n": "-12345678901234567890123456789.123456789", "t": "0001-01-01T00:00:00.000001Z", "d": "9999-12-31"}
    (got,) = rows_table(schema, [row, {}]).to_pylist()[:1]
    assert got == {"n": Decimal(row["n"]), "t": datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=timezone.utc), "d": date(9999, 12, 31)}
    assert rows_table(schema, [{}]).to_pylist() == [{"n": None, "t": None, "d": None}]


def test_conform_adds_missing_columns_as_null_and_refuses_unknown_ones():
    schema = pa.schema([("a", pa.int64()), ("b", pa.string())])
    assert conform(pa.table({"a": [1]}), schema).to_pylist() == [{"a": 1, "b": None}]
    with pytest.raises(ValueError):
        conform(pa.table({"c": [1]}), schema)


def test_merge_summaries_in_range_order_and_stopping_at_a_failed_range():
    first = FileSummary("f", 2, 1, 1, reasons={"x": 1}, partition_min="2026-01-02", partition_max="2026-01-03")
    second = FileSummary("f", 1, 1, 0, reasons={}, partition_min="2026-01-01", partition_max="2026-01-01")
    failed = FileSummary("f", 0, file_error="broken", reasons={})
    later = FileSummary("f", 5, 5, reasons={})
    merged = merge_summaries("f", [(1, second), (3, later), (0, first), (2, failed)])
    assert (merged.rows_read, merged.rows_valid, merged.rows_deadletter) == (3, 2, 1)
    assert (merged.partition_min, merged.partition_max, merged.file_error) == ("2026-01-01", "2026-01-03", "broken")
    assert merged.reasons == {"x": 1}


def test_summary_row_carries_the_file_and_reasons_as_json():
    row = summary_row(FileSummary("f", 1, 0, 1, reasons={"b": 1, "a": 2}), "f_1.csv")
    assert row["source_file"] == "f_1.csv" and json.loads(row["reasons"]) == {"a": 2, "b": 1}
    assert dumps(row) == json.dumps(row, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
