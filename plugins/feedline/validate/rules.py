"""Row validation against a feed contract: the checks the row-by-row reference applies to each record.

Pure functions over strings; imports neither Airflow nor Beam. The Beam job, ``feedline
validate`` and the tests run this same code. Every bad row gets exactly one reason (the first
check it fails, in column order), so counts per reason are stable.

Decisions (each has a test):
- Header columns are matched by name, in any order; a duplicated name rejects the file, and so
  does a missing or unexpected one unless the contract's ``schema_drift`` says otherwise
  (:mod:`feedline.validate.header`).
- Leading/trailing whitespace is trimmed from every field; an empty field is NULL.
- NUMERIC is a plain decimal (no thousands separators, no exponent), at most 29 integer and 9
  fractional digits, as BigQuery's NUMERIC holds.
- TIMESTAMP is ISO 8601 (``T`` or space); without a zone it is read as UTC. Its UTC value must
  lie in 0001-01-01..9999-12-31 (BigQuery's range; "timestamp out of range" otherwise) and is
  written zero-padded (``0001-...``), as BigQuery's loader requires.
- DATE is YYYY-MM-DD and must exist (2026-02-30 does not).
- Numbers, dates and timestamps take ASCII digits only: ``\\d`` would accept other scripts' digits
  (``"١٢"``) and pass them on to a load job that rejects them.
- FLOAT64 must be finite: ``1e999`` overflows to infinity, which JSON cannot carry.
"""

from __future__ import annotations

import math
from collections import Counter
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Iterable

from feedline.contract.model import Column, Contract
from feedline.validate.csvio import FileRejected, Record, iter_records
from feedline.validate.header import HeaderPlan, plan_header

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
INT64 = re.compile(r"^[+-]?\d{1,19}$", re.ASCII)
NUMERIC = re.compile(r"^[+-]?(\d{1,29})(\.\d{1,9})?$", re.ASCII)
FLOAT64 = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$", re.ASCII)
DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$", re.ASCII)
TIMESTAMP = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(?:(Z|z| UTC)|([+-])(\d{2}):?(\d{2}))?$",
    re.ASCII,
)
BOOLS = {"true": True, "false": False, "1": True, "0": False}
# Bytes that are not UTF-8, as csvio decodes them (surrogateescape).
UNDECODABLE = re.compile("[\udc80-\udcff]")

# Reasons without a column; per-column reasons are "<column>: <what>".
WRONG_FIELD_COUNT = "wrong number of fields"
NOT_UTF8 = "not valid UTF-8"
NUL_BYTE = "contains a NUL byte"
# Per-column reasons the columnar path also decides on its own (feedline.validate.columnar.checks).
MISSING = "required value is missing"
NOT_NUMERIC = "not a plain decimal NUMERIC"
NOT_DATE = "not a DATE (YYYY-MM-DD)"
NO_SUCH_DATE = "date does not exist"
NOT_TIMESTAMP = "not a TIMESTAMP (ISO 8601)"
NO_SUCH_TIMESTAMP = "timestamp does not exist"
NOT_ALLOWED = "not an allowed value"
NOT_EMAIL = "not an email address"


def too_long(max_length: int) -> str:
    return f"longer than {max_length} characters"


@dataclass(frozen=True)
class RowError:
    reason: str
    column: str | None = None

    @property
    def key(self) -> str:
        """The reason as counted per batch: ``column: reason`` or just the reason."""
        return f"{self.column}: {self.reason}" if self.column else self.reason


class ValueInvalid(ValueError):
    pass


def _parse_numeric(text: str) -> str:
    if not NUMERIC.match(text):
        raise ValueInvalid(NOT_NUMERIC)
    return text.lstrip("+")


def _parse_int(text: str) -> int:
    if not INT64.match(text) or not -(2**63) <= int(text) < 2**63:
        raise ValueInvalid("not an INT64")
    return int(text)


def _parse_float(text: str) -> float:
    if not FLOAT64.match(text):
        raise ValueInvalid("not a FLOAT64")
    value = float(text)
    if math.isinf(value):
        raise ValueInvalid("FLOAT64 out of range")
    return value


def _parse_bool(text: str) -> bool:
    try:
        return BOOLS[text.lower()]
    except KeyError:
        raise ValueInvalid("not a BOOL (true/false/1/0)") from None


def _parse_date(text: str) -> str:
    match = DATE.match(text)
    if not match:
        raise ValueInvalid(NOT_DATE)
    try:
        return date(*map(int, match.groups())).isoformat()
    except ValueError:
        raise ValueInvalid(NO_SUCH_DATE) from None


def _parse_timestamp(text: str) -> str:
    match = TIMESTAMP.match(text)
    if not match:
        raise ValueInvalid(NOT_TIMESTAMP)
    y, mo, d, h, mi, s, frac, utc, sign, oh, om = match.groups()
    try:
        offset = timedelta(0)
        if sign:
            offset = timedelta(hours=int(oh), minutes=int(om))
            if offset >= timedelta(hours=24):
                raise ValueError
            offset = -offset if sign == "-" else offset
        moment = datetime(
            int(y), int(mo), int(d), int(h), int(mi), int(s), int((frac or "0").ljust(6, "0")),
            tzinfo=timezone(offset),
        )
    except ValueError:
        raise ValueInvalid(NO_SUCH_TIMESTAMP) from None
    try:
        utc = moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueInvalid("timestamp out of range") from None
    # Not strftime: its %Y does not zero-pad years before 1000 on Linux.
    return f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"


PARSERS: dict[str, Callable[[str], Any]] = {
    "STRING": lambda text: text,
    "INT64": _parse_int,
    "NUMERIC": _parse_numeric,
    "FLOAT64": _parse_float,
    "BOOL": _parse_bool,
    "DATE": _parse_date,
    "TIMESTAMP": _parse_timestamp,
}


def parse_value(column: Column, text: str) -> Any:
    """The typed value of one field (None when empty); ValueInvalid says what is wrong."""
    text = text.strip()
    if text == "":
        if column.required:
            raise ValueInvalid(MISSING)
        return None
    if column.max_length is not None and len(text) > column.max_length:
        raise ValueInvalid(too_long(column.max_length))
    value = PARSERS[column.type](text)
    if column.check == "email" and not EMAIL.match(text):
        raise ValueInvalid(NOT_EMAIL)
    if column.pattern is not None and not re.fullmatch(column.pattern, text):
        raise ValueInvalid("does not match the column's pattern")
    if column.allowed_values is not None and text not in column.allowed_values:
        raise ValueInvalid(NOT_ALLOWED)
    return value


def record_problem(record: Record) -> RowError | None:
    """Problems of the record's bytes, before any column is looked at."""
    text = "".join(record.fields)
    if "\x00" in text:
        return RowError(NUL_BYTE)
    if UNDECODABLE.search(text):
        return RowError(NOT_UTF8)
    return None


def validate_record(
    contract: Contract, positions: list[int], header_width: int, record: Record
) -> dict[str, Any] | RowError:
    """The typed row (column -> value) or the first RowError."""
    if len(record.fields) != header_width:
        return RowError(f"{WRONG_FIELD_COUNT}: expected {header_width}")
    problem = record_problem(record)
    if problem:
        return problem
    row: dict[str, Any] = {}
    for column, position in zip(contract.columns, positions):
        try:
            row[column.name] = parse_value(column, record.fields[position])
        except ValueInvalid as exc:
            return RowError(str(exc), column.name)
    return row


def validate_records(contract: Contract, records: Iterable[Record], summary: "FileSummary | None" = None):
    """Yield (record, row-or-RowError) for every data record; FileRejected for the file.
    ``summary`` (if given) notes what the header plan does with drifted columns."""
    iterator = iter(records)
    header = next(iterator, None)
    if header is None:
        raise FileRejected("empty file: no header")
    plan = plan_header(contract, header.fields)
    if summary is not None:
        summary.note_header(plan)
    positions = list(plan.positions)
    for record in iterator:
        yield record, validate_record(plan.contract, positions, len(header.fields), record)


@dataclass
class FileSummary:
    """Counts for one file, as ``feedline validate --json`` prints them and the audit records."""

    feed: str
    rows_read: int = 0
    rows_valid: int = 0
    rows_deadletter: int = 0
    file_error: str | None = None
    reasons: dict[str, int] | None = None
    partition_min: str | None = None  # first and last day of the partition column in valid rows
    partition_max: str | None = None
    # What the contract's schema_drift did with the header (feedline.validate.header.HeaderPlan).
    columns_added: list[str] | None = None
    columns_ignored: list[str] | None = None
    columns_nulled: list[str] | None = None

    def note_header(self, plan: HeaderPlan) -> None:
        self.columns_added = list(plan.added) or None
        self.columns_ignored = list(plan.ignored) or None
        self.columns_nulled = list(plan.nulled) or None

    @property
    def deadletter_share(self) -> float:
        return self.rows_deadletter / self.rows_read if self.rows_read else 0.0

    def add(self, outcome: dict[str, Any] | RowError, partition_column: str | None = None) -> None:
        self.rows_read += 1
        if isinstance(outcome, RowError):
            self.rows_deadletter += 1
            self.reasons = self.reasons or {}
            self.reasons[outcome.key] = self.reasons.get(outcome.key, 0) + 1
        else:
            self.rows_valid += 1
            day = outcome.get(partition_column) if partition_column else None
            if day is not None:
                day = day[:10]  # DATE, or a TIMESTAMP normalised to UTC
                self.include_days(day, day)

    def add_rejections(self, keys: Iterable[str]) -> None:
        """Rows deadlettered for the reasons ``keys`` (one per row), counted as add() counts them."""
        for key, count in Counter(keys).items():
            self.rows_read += count
            self.rows_deadletter += count
            self.reasons = self.reasons or {}
            self.reasons[key] = self.reasons.get(key, 0) + count

    def include_days(self, first: str | None, last: str | None) -> None:
        """Widen partition_min..partition_max to cover the days given (None: no day)."""
        for day in (first, last):
            if day is not None:
                self.partition_min = min(self.partition_min or day, day)
                self.partition_max = max(self.partition_max or day, day)


def partition_column(contract: Contract) -> str | None:
    return contract.partition_by.column if contract.partition_by else None


def summarize_file(contract: Contract, stream) -> FileSummary:
    """Validate a whole file stream without keeping rows: what ``feedline validate`` reports."""
    summary = FileSummary(contract.feed, reasons={})
    try:
        for _record, outcome in validate_records(contract, iter_records(stream), summary):
            summary.add(outcome, partition_column(contract))
    except FileRejected as exc:
        summary.file_error = exc.reason
    return summary
