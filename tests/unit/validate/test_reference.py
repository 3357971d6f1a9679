"""The row-by-row reference engine: chunks of valid and deadletter lines, then the summary."""

from __future__ import annotations

import gzip
import io

from feedline.validate.outputs import DEADLETTER, VALID, Chunk
from feedline.validate.reference import row_outputs
from feedline.validate.rules import FileSummary

from engines import STAMP

HEADER = "transaction_id,customer_id,amount,currency,status,transaction_ts\r\n"
GOOD = "T1,C1,12.50,GBP,settled,2026-11-25T10:00:00Z\r\n"
BAD = "T2,C1,1e5,GBP,settled,2026-11-26T10:00:00Z\r\n"


def run(contract, data: bytes) -> tuple[list[Chunk], FileSummary]:
    *chunks, summary = list(row_outputs(contract, io.BytesIO(data), STAMP))
    assert isinstance(summary, FileSummary) and all(isinstance(c, Chunk) for c in chunks)
    return chunks, summary


def test_rows_go_to_valid_or_deadletter_and_the_summary_comes_last(contracts):
    chunks, summary = run(contracts["transactions"], (HEADER + GOOD + BAD + "\r\n").encode())
    by_output = {c.output: c.rows() for c in chunks}
    assert [r["transaction_id"] for r in by_output[VALID]] == ["T1"]
    assert by_output[VALID][0]["_line_number"] == 2 and by_output[VALID][0]["_batch_id"] == STAMP.batch_id
    assert [(r["_line_number"], r["reason"]) for r in by_output[DEADLETTER]] == [
        (3, "amount: not a plain decimal NUMERIC")
    ]
    assert (summary.rows_read, summary.rows_valid, summary.rows_deadletter) == (2, 1, 1)
    assert summary.file_error is None


def test_a_rejected_file_still_ends_with_its_summary(contracts):
    chunks, summary = run(contracts["transactions"], b"")
    assert chunks == [] and summary.file_error == "empty file: no header"
    packed = gzip.compress((HEADER + GOOD * 30_000).encode())
    chunks, summary = run(contracts["transactions"], packed[: len(packed) // 2])
    assert summary.file_error.startswith("unreadable compressed file at line")
    assert summary.rows_valid == sum(c.count for c in chunks) > 0
