"""The row-by-row reference engine: every record read by csv and validated by rules, one by one.

What both engines must produce, byte for byte: :mod:`feedline.validate.columnar` is the fast
path and hands whatever it cannot decide to the same rules. ``--engine row`` of the Beam job runs
this; the tests compare the columnar path against it. Imports contract and validate only.
"""

from __future__ import annotations

from typing import BinaryIO, Iterator

from feedline.contract.model import Contract
from feedline.validate.csvio import FileRejected, iter_records
from feedline.validate.outputs import DEADLETTER, VALID, Chunk, ChunkBuffer, DeadletterLines, Stamp, valid_line
from feedline.validate.rules import FileSummary, RowError, partition_column, validate_records


def row_outputs(contract: Contract, stream: BinaryIO, stamp: Stamp) -> Iterator[Chunk | FileSummary]:
    """The reference: validate row by row; yield Chunks, then the file's FileSummary last."""
    summary = FileSummary(contract.feed, reasons={})
    day_column = partition_column(contract)
    buffer = ChunkBuffer()
    dead_line = DeadletterLines(stamp)
    try:
        for record, outcome in validate_records(contract, iter_records(stream), summary):
            summary.add(outcome, day_column)
            if isinstance(outcome, RowError):
                chunk = buffer.add(DEADLETTER, dead_line(record, outcome))
            else:
                chunk = buffer.add(VALID, valid_line(outcome, stamp, record.line_number))
            if chunk:
                yield chunk
    except FileRejected as exc:
        summary.file_error = exc.reason
    yield from buffer.flush()
    yield summary
