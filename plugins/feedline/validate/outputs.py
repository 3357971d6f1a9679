"""The validation job's outputs: valid and deadletter rows as Arrow tables (written as Parquet),
one summary line per file (newline-delimited JSON).

What the DAG loads (``feedline.contract.tables.load_output_schema``): ``valid`` rows (the contract's
columns, typed, plus ``_batch_id``, ``_ingested_at``, ``_line_number``, ``_source_file``),
``deadletter`` rows (those four plus ``raw_bytes``, ``raw_line``, ``reason``, ``column_name``)
and one ``summary`` line per file. Rows travel in :class:`Chunk`\\ s: one Arrow table of many
rows, so a runner moves one element per block of rows instead of one per row.

Arrow types (:data:`ARROW_TYPES`, the one mapping from BigQuery types): NUMERIC is
decimal128(38, 9) (BigQuery loads a Parquet DECIMAL(38, 9) as NUMERIC, exactly, with
``decimalTargetTypes``), TIMESTAMP timestamp(us, UTC), DATE date32, BYTES binary (a deadletter
row's exact bytes: no base64). The columnar path (:mod:`feedline.validate.columnar`) builds the
typed arrays with Arrow kernels; the row-by-row path (:mod:`feedline.validate.reference`) turns
the reference's Python values into the same types here (:func:`rows_table`). Imports neither
Airflow nor Beam.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cached_property, lru_cache
from typing import Any, Iterable, Iterator

import pyarrow as pa

from feedline.contract import tables
from feedline.contract.model import Contract
from feedline.validate.csvio import Record
from feedline.validate.header import EVOLVED_TYPE
from feedline.validate.rules import FileSummary, RowError

VALID, DEADLETTER = "valid", "deadletter"
ROWS_PER_CHUNK = 20_000

NUMERIC = pa.decimal128(38, 9)
ARROW_TYPES: dict[str, pa.DataType] = {
    "STRING": pa.string(),
    "INT64": pa.int64(),
    "NUMERIC": NUMERIC,
    "FLOAT64": pa.float64(),
    "BOOL": pa.bool_(),
    "DATE": pa.date32(),
    "TIMESTAMP": pa.timestamp("us", tz="UTC"),
    "BYTES": pa.binary(),
}


def arrow_schema(fields: Iterable[dict[str, str]]) -> pa.Schema:
    """BigQuery schema fields (name/type/mode) as an Arrow schema (REQUIRED: not nullable)."""
    return pa.schema([pa.field(f["name"], ARROW_TYPES[f["type"]], nullable=f.get("mode") != "REQUIRED") for f in fields])


def valid_schema(contract: Contract, evolved: Iterable[str] = ()) -> pa.Schema:
    """The valid output's schema: the raw load table's columns, then the evolved ones (sorted,
    as the DAG's valid load schema lists them)."""
    extra = [{"name": name, "type": EVOLVED_TYPE, "mode": "NULLABLE"} for name in sorted(set(evolved))]
    return arrow_schema([*tables.load_output_schema(contract, VALID), *extra])


@lru_cache(maxsize=1)
def deadletter_schema() -> pa.Schema:
    """The deadletter output's schema (tables.json: the same for every feed)."""
    return arrow_schema(tables.layout()["tables"]["deadletter"]["extra_columns"])


# A string column as the job hands it to the Parquet writer (stored_schema).
DICTIONARY_STRING = pa.dictionary(pa.int32(), pa.string())


def stored_schema(schema: pa.Schema, distinct: Iterable[str] = ()) -> pa.Schema:
    """``schema`` as the job's tables reach the Parquet writer: every string column worth a
    Parquet dictionary as a dictionary array. That is all but those whose values are mostly
    distinct (``distinct``: a feed's key, a deadletter row's text): repeated strings (the
    stamps, codes, a customer id) shrink to a few bits, while a dictionary over unique values,
    or over numbers and times, costs writing time for nothing.

    Dictionary arrays because validation already has most of those dictionaries (a column
    checked against allowed values or a pattern, the stamps), and the writer takes a chunk's
    dictionary as it is instead of hashing the column again. The file is the same as one
    written from plain strings (dictionary pages either way) when the writer leaves out the
    Arrow schema (store_schema=False): it reads back as ``schema``."""
    dense = set(distinct)
    return pa.schema(
        [f.with_type(DICTIONARY_STRING) if pa.types.is_string(f.type) and f.name not in dense else f for f in schema]
    )


def table_of(schema: pa.Schema, arrays: list[pa.Array]) -> pa.Table:
    """``arrays`` as a table of ``schema``'s columns, where a STRING column may come as a
    dictionary array (validation makes some: see stored_schema); :func:`conform` gives any
    such table exactly the schema wanted."""
    return pa.Table.from_arrays(arrays, schema=pa.schema([f.with_type(a.type) for f, a in zip(schema, arrays)]))


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text)  # "...Z" and "+00:00" both (Python 3.11)


@dataclass(frozen=True)
class Stamp:
    """What every output row of one file carries besides its own values."""

    batch_id: str
    ingested_at: str
    source_file: str

    @cached_property
    def ingested_at_time(self) -> datetime:
        return _parse_time(self.ingested_at)

    def where(self, line_number: int) -> dict[str, Any]:
        return {
            "_batch_id": self.batch_id,
            "_ingested_at": self.ingested_at_time,
            "_source_file": self.source_file,
            "_line_number": line_number,
        }


@dataclass(frozen=True)
class Chunk:
    """Rows of one output as an Arrow table."""

    output: str  # VALID or DEADLETTER
    table: pa.Table

    @property
    def count(self) -> int:
        return self.table.num_rows

    def rows(self) -> list[dict[str, Any]]:
        return self.table.to_pylist()


# The reference's Python values -> what Arrow takes for each type (the columnar path computes
# the same values with kernels; the tests compare the two).
_FROM_TYPE = {
    ARROW_TYPES["NUMERIC"]: Decimal,
    ARROW_TYPES["DATE"]: date.fromisoformat,
    ARROW_TYPES["TIMESTAMP"]: _parse_time,
}


def rows_table(schema: pa.Schema, rows: list[dict[str, Any]]) -> pa.Table:
    """Valid rows (rules.validate_record's dicts plus Stamp.where) as a table of ``schema``
    (:func:`valid_schema`); a column a row lacks is NULL."""
    arrays = []
    for f in schema:
        values = [row.get(f.name) for row in rows]
        convert = _FROM_TYPE.get(f.type)
        if convert is not None:
            values = [convert(v) if isinstance(v, str) else v for v in values]
        arrays.append(pa.array(values, f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with exactly ``schema``'s columns, in its order and types (a dictionary array
    and its plain strings cast either way): columns it lacks (a file's missing or not-evolved
    ones) are NULL; a column ``schema`` does not know is an error."""
    unknown = set(table.column_names) - set(schema.names)
    if unknown:
        raise ValueError(f"columns {sorted(unknown)} are not in the output schema")
    n = table.num_rows
    arrays = [
        table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(n, f.type)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


SEPARATORS = (",", ":")


def dumps(row: dict[str, Any]) -> str:
    return json.dumps(row, ensure_ascii=False, sort_keys=True, separators=SEPARATORS)


def printable(text: str) -> str:
    """Readable text for the deadletter table's ``raw_line``: undecodable bytes shown as \\xNN.
    Not reversible (a literal backslash-x looks the same): ``raw_bytes`` is the exact record."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def raw_bytes(text: str) -> bytes:
    """The record's exact bytes for the deadletter table's BYTES column ``raw_bytes``. ``text``
    is the record as csvio decodes it (UTF-8 with surrogateescape, line ends untouched), so
    encoding it back gives the file's bytes, whatever they are: invalid UTF-8, NUL, CR/LF
    inside quotes, the line end(s) themselves."""
    return text.encode("utf-8", "surrogateescape")


def deadletter_row(record: Record, error: RowError, stamp: Stamp) -> dict[str, Any]:
    return {
        **stamp.where(record.line_number),
        "raw_bytes": raw_bytes(record.raw),
        "raw_line": printable(record.raw),
        "reason": error.key,
        "column_name": error.column,
    }


def deadletter_table(rows: list[dict[str, Any]]) -> pa.Table:
    schema = deadletter_schema()
    return pa.Table.from_arrays([pa.array([r[f.name] for r in rows], f.type) for f in schema], schema=schema)


DRIFT_FIELDS = ("columns_added", "columns_ignored", "columns_nulled")


def summary_row(summary: FileSummary, source_file: str) -> dict[str, Any]:
    """The summary output's line for one file (tables.SUMMARY_FIELDS). The drifted column names
    travel as JSON arrays in STRING columns (NULL: none), as ``reasons`` travels as an object."""
    drift = {name: json.dumps(getattr(summary, name), ensure_ascii=False, separators=SEPARATORS) if getattr(summary, name) else None
             for name in DRIFT_FIELDS}
    return {**vars(summary), "source_file": source_file, "reasons": json.dumps(summary.reasons, sort_keys=True), **drift}


def merge_summaries(feed: str, parts: list[tuple[int, FileSummary]]) -> FileSummary:
    """One file's summary from the summaries of its ranges (by range index). A range that
    failed ends the file there, as reading it in one go would have. (Planning reads every range
    but the last, and makes a file that fails there one range: only the last range can fail.)"""
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
    """Collects rows per output (valid rows as ``schema`` says) and hands them out as Chunks
    of ``size`` rows."""

    def __init__(self, schema: pa.Schema, size: int = ROWS_PER_CHUNK):
        self.schema, self.size = schema, size
        self.rows: dict[str, list[dict[str, Any]]] = {VALID: [], DEADLETTER: []}

    def add(self, output: str, row: dict[str, Any]) -> Chunk | None:
        rows = self.rows[output]
        rows.append(row)
        return self.take(output) if len(rows) >= self.size else None

    def take(self, output: str) -> Chunk | None:
        rows, self.rows[output] = self.rows[output], []
        if not rows:
            return None
        return Chunk(output, rows_table(self.schema, rows) if output == VALID else deadletter_table(rows))

    def flush(self) -> Iterator[Chunk]:
        for output in (VALID, DEADLETTER):
            chunk = self.take(output)
            if chunk:
                yield chunk
