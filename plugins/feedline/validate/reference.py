"""The row-by-row reference engine: every record read by csv and validated by rules, one by one.

What both engines must produce, value for value: :mod:`feedline.validate.columnar` is the fast
path and hands whatever it cannot decide to the same rules. ``--engine row`` of the Beam job runs
this; the tests compare the columnar path against it. Imports contract and validate only.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

from feedline.contract.model import Contract
from feedline.validate.csvio import FileRejected, iter_records
from feedline.validate.outputs import DEADLETTER, VALID, Chunk, ChunkBuffer, Stamp, deadletter_row, valid_schema
from feedline.validate.rules import FileSummary, RowError, partition_column, validate_records


def row_outputs(contract: Contract, stream: BinaryIO, stamp: Stamp) -> Iterator[Chunk | FileSummary]:
    """The reference: validate row by row; yield Chunks, then the file's FileSummary last."""
    summary = FileSummary(contract.feed, reasons={})
    day_column = partition_column(contract)
    buffer = None
    try:
        for record, outcome in validate_records(contract, iter_records(stream), summary):
            if buffer is None:  # the header is planned: rows have the plan's columns
                buffer = ChunkBuffer(valid_schema(contract, summary.columns_added or ()))
            summary.add(outcome, day_column)
            if isinstance(outcome, RowError):
                chunk = buffer.add(DEADLETTER, deadletter_row(record, outcome, stamp))
            else:
                chunk = buffer.add(VALID, {**outcome, **stamp.where(record.line_number)})
            if chunk:
                yield chunk
    except FileRejected as exc:
        summary.file_error = exc.reason
    if buffer is not None:
        yield from buffer.flush()
    yield summary
