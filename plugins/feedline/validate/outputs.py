"""The validation job's three outputs as newline-delimited JSON.

What the DAG loads (``feedline.contract.tables.load_output_schema``): ``valid`` rows (the contract's
columns, typed, plus ``_batch_id``, ``_ingested_at``, ``_line_number``, ``_source_file``),
``deadletter`` rows (those four plus ``raw_bytes``, ``raw_line``, ``reason``, ``column_name``)
and one ``summary`` line per file. Rows travel in :class:`Chunk`\\ s: many JSON lines in one bytes
object, so a runner moves one element per block of rows instead of one per row.

Every line is :func:`dumps`: ``json.dumps`` with sorted keys, UTF-8 as is and no spaces
(the valid output is several times the size of its CSV; spaces would add a tenth). The columnar
path (:mod:`feedline.validate.columnar`) renders the same bytes with Arrow kernels; the row-by-row
path (:mod:`feedline.validate.reference`) writes them with the functions here. Imports neither
Airflow nor Beam.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any, Iterator

from feedline.validate.csvio import Record
from feedline.validate.rules import UNDECODABLE, FileSummary, RowError

VALID, DEADLETTER = "valid", "deadletter"
ROWS_PER_CHUNK = 20_000


@dataclass(frozen=True)
class Stamp:
    """What every output row of one file carries besides its own values."""

    batch_id: str
    ingested_at: str
    source_file: str

    def where(self, line_number: int) -> dict[str, Any]:
        return {
            "_batch_id": self.batch_id,
            "_ingested_at": self.ingested_at,
            "_source_file": self.source_file,
            "_line_number": line_number,
        }


@dataclass(frozen=True)
class Chunk:
    """``count`` JSON lines of one output, joined by newlines (no trailing newline)."""

    output: str  # VALID or DEADLETTER
    lines: bytes | memoryview | Any  # bytes-like (bytes, or a pyarrow Buffer: no copy)
    count: int

    def text(self) -> bytes:
        return self.lines if isinstance(self.lines, bytes) else bytes(self.lines)

    def rows(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.text().split(b"\n")] if self.count else []


SEPARATORS = (",", ":")


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=SEPARATORS)


def printable(text: str) -> str:
    """Readable text for the deadletter table's ``raw_line``: undecodable bytes shown as \\xNN.
    Not reversible (a literal backslash-x looks the same): ``raw_bytes`` is the exact record."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def raw_bytes(text: str) -> str:
    """The record's exact bytes, as the deadletter table's BYTES column ``raw_bytes`` takes them
    in newline-delimited JSON (base64). ``text`` is the record as csvio decodes it (UTF-8 with
    surrogateescape, line ends untouched), so encoding it back gives the file's bytes, whatever
    they are: invalid UTF-8, NUL, CR/LF inside quotes, the line end(s) themselves."""
    return base64.b64encode(text.encode("utf-8", "surrogateescape")).decode("ascii")


def valid_line(row: dict[str, Any], stamp: Stamp, line_number: int) -> str:
    return dumps({**row, **stamp.where(line_number)})


def deadletter_row(record: Record, error: RowError, stamp: Stamp) -> dict[str, Any]:
    return {
        **stamp.where(record.line_number),
        "raw_bytes": raw_bytes(record.raw),
        "raw_line": printable(record.raw),
        "reason": error.key,
        "column_name": error.column,
    }


def _string(value: str | None) -> str:
    return json.dumps(value, ensure_ascii=False)


class DeadletterLines:
    """Deadletter JSON lines of one file, without building a dict per row: the stamp's part of
    the line is rendered once. Same bytes as dumps(deadletter_row(...)) (a test checks)."""

    def __init__(self, stamp: Stamp):
        self.head = f'{{"_batch_id":{_string(stamp.batch_id)},"_ingested_at":{_string(stamp.ingested_at)},"_line_number":'
        self.middle = f',"_source_file":{_string(stamp.source_file)},"column_name":'

    def __call__(self, record: Record, error: RowError) -> str:
        raw = record.raw
        if UNDECODABLE.search(raw):
            raw = printable(raw)
        return (
            f"{self.head}{record.line_number}{self.middle}{_string(error.column)},"
            f'"raw_bytes":"{raw_bytes(record.raw)}","raw_line":{_string(raw)},"reason":{_string(error.key)}}}'
        )


DRIFT_FIELDS = ("columns_added", "columns_ignored", "columns_nulled")


def summary_row(summary: FileSummary, source_file: str) -> dict[str, Any]:
    """The summary output's line for one file (tables.SUMMARY_FIELDS). The drifted column names
    travel as JSON arrays in STRING columns (NULL: none), as ``reasons`` travels as an object."""
    drift = {name: json.dumps(getattr(summary, name), ensure_ascii=False, separators=SEPARATORS) if getattr(summary, name) else None
             for name in DRIFT_FIELDS}
    return {**vars(summary), "source_file": source_file, "reasons": json.dumps(summary.reasons, sort_keys=True), **drift}


def merge_summaries(feed: str, parts: list[tuple[int, FileSummary]]) -> FileSummary:
    """One file's summary from the summaries of its ranges (by range index). A range that
    failed ends the file there, as reading it in one go would have (later ranges only run
    when planning proved the file reads cleanly, so this is the whole-file case)."""
    merged = FileSummary(feed, reasons={})
    ordered = sorted(parts, key=lambda p: p[0])
    for name in DRIFT_FIELDS:  # one header per file: every range read it the same way
        setattr(merged, name, getattr(ordered[0][1], name) if ordered else None)
    for _index, part in ordered:
        merged.rows_read += part.rows_read
        merged.rows_valid += part.rows_valid
        merged.rows_deadletter += part.rows_deadletter
        for reason, count in (part.reasons or {}).items():
            merged.reasons[reason] = merged.reasons.get(reason, 0) + count
        merged.include_days(part.partition_min, part.partition_max)
        if part.file_error:
            merged.file_error = part.file_error
            break
    return merged


class ChunkBuffer:
    """Collects JSON lines per output and hands them out as Chunks of ``size`` rows."""

    def __init__(self, size: int = ROWS_PER_CHUNK):
        self.size = size
        self.lines: dict[str, list[str]] = {VALID: [], DEADLETTER: []}

    def add(self, output: str, line: str) -> Chunk | None:
        lines = self.lines[output]
        lines.append(line)
        return self.take(output) if len(lines) >= self.size else None

    def take(self, output: str) -> Chunk | None:
        lines, self.lines[output] = self.lines[output], []
        if not lines:
            return None
        return Chunk(output, "\n".join(lines).encode("utf-8"), len(lines))

    def flush(self) -> Iterator[Chunk]:
        for output in (VALID, DEADLETTER):
            chunk = self.take(output)
            if chunk:
                yield chunk
