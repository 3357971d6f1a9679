"""Output lines: dumps, deadletter lines, chunks, summaries."""

from __future__ import annotations

import base64
import json

import pytest

from feedline.validate.csvio import Record
from feedline.validate.outputs import (
    DEADLETTER,
    VALID,
    ChunkBuffer,
    DeadletterLines,
    deadletter_row,
    dumps,
    merge_summaries,
    printable,
    raw_bytes,
    summary_row,
)
from feedline.validate.rules import FileSummary, RowError

from engines import STAMP


@pytest.mark.parametrize(
    "raw, column, reason",
    [("a,b\r\n", None, "wrong number of fields: expected 6"), ('x,"q""uote",\udce9\n', "name", "not valid UTF-8"),
     ("é😀\t\x00\u2028\n", "ts", "ts: timestamp does not exist"), ("", None, "")],
)
def test_deadletter_lines_are_dumps_of_the_deadletter_row(raw, column, reason):
    record = Record(7, raw, [])
    error = RowError(reason.split(": ", 1)[-1], column) if column else RowError(reason)
    assert DeadletterLines(STAMP)(record, error) == dumps(deadletter_row(record, error, STAMP))


def test_raw_bytes_is_the_records_bytes_in_base64_and_printable_is_not_reversible():
    for data in (b"a\xffb\r\n", b"Ren\\xe9e\n", b"\x00\xed\xa0\x80", b""):
        text = data.decode("utf-8", "surrogateescape")  # as csvio reads it
        assert base64.b64decode(raw_bytes(text)) == data
    assert printable("Ren\udce9e") == printable("Ren\\xe9e")  # the reason raw_bytes exists


def test_printable_shows_undecodable_bytes():
    assert printable(b"a\xffb".decode("utf-8", "surrogateescape")) == "a\\xffb"
    assert printable("é") == "é"


def test_chunk_buffer_hands_out_full_chunks_then_the_rest():
    buffer = ChunkBuffer(size=2)
    assert buffer.add(VALID, '{"a":1}') is None
    chunk = buffer.add(VALID, '{"a":2}')
    assert chunk.output == VALID and chunk.count == 2 and chunk.rows() == [{"a": 1}, {"a": 2}]
    buffer.add(DEADLETTER, '{"b":1}')
    buffer.add(VALID, '{"a":3}')
    assert [(c.output, c.text()) for c in buffer.flush()] == [(VALID, b'{"a":3}'), (DEADLETTER, b'{"b":1}')]
    assert list(buffer.flush()) == []


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
