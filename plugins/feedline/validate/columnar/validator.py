"""Validating: the facts of a block of records, and whole files (:class:`ColumnarValidator`)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import BinaryIO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from feedline.contract.model import Contract
from feedline.validate.columnar.arrow import combined
from feedline.validate.columnar.blocks import (
    BLOCK_SIZE,
    RecordBlock,
    iter_blocks,
    terminator_lengths,
)
from feedline.validate.columnar.checks import Checked, check_column
from feedline.validate.columnar.ranges import WHOLE_FILE, FileRange
from feedline.validate.csvio import FileRejected
from feedline.validate.outputs import (
    DEADLETTER, VALID, Chunk, Stamp, deadletter_row, deadletter_schema, deadletter_table, rows_table, table_of,
    valid_schema,
)
from feedline.validate.header import HeaderPlan, plan_header
from feedline.validate.rules import WRONG_FIELD_COUNT, FileSummary, RowError, partition_column, validate_record

LOG = logging.getLogger(__name__)


@dataclass
class _BlockFacts:
    clean: np.ndarray  # per record: no NUL, valid UTF-8, ordinary quoting (Arrow counts its fields)
    ascii_only: bool
    quoted_newlines: bool  # some clean record has a line end inside quotes


def _owners(starts: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Index of the record each byte position falls in."""
    return np.searchsorted(starts, positions, side="right") - 1


def _block_facts(block: RecordBlock) -> _BlockFacts:
    a = np.frombuffer(block.data, dtype=np.uint8)
    n = len(block)
    starts, ends = block.starts, block.ends
    base, stop = int(starts[0]), int(ends[-1])
    span = a[base:stop]
    clean = np.ones(n, dtype=bool)
    if block.tokenized:  # odd quoting: csv read these, the reference decides them
        clean[list(block.tokenized)] = False
    # Control bytes beyond the record's own line end: quoted line ends, tabs, NUL. Counted
    # first: most blocks have none, and then no record needs looking at.
    terminator = terminator_lengths(a, starts, ends)
    extra = np.zeros(n, dtype=bool)
    is_control = span < 0x20
    if np.count_nonzero(is_control) > terminator.sum():
        controls = np.flatnonzero(is_control) + base
        extra = (np.searchsorted(controls, ends) - np.searchsorted(controls, starts)) > terminator
        nul = controls[a[controls] == 0]
        if len(nul):
            clean[_owners(starts, nul)] = False
    ascii_only = int(span.max()) < 0x80
    if not ascii_only:
        try:
            block.data[base:stop].decode("utf-8")
        except UnicodeDecodeError:
            high = np.flatnonzero(span >= 0x80) + base
            for i in np.unique(_owners(starts, high)).tolist():
                try:
                    block.data[starts[i] : ends[i]].decode("utf-8")
                except UnicodeDecodeError:
                    clean[i] = False
    quoted_newlines = bool(block.has_quotes and (extra & clean).any())
    return _BlockFacts(clean, ascii_only=ascii_only, quoted_newlines=quoted_newlines)


@dataclass
class _ArrowRows:
    table: pa.Table  # the records of the right width, all columns as strings
    wrong_width: np.ndarray  # positions (in the index given) of the records of another width


def _arrow_rows(block: RecordBlock, index: np.ndarray, width: int, newlines_in_values: bool) -> _ArrowRows | None:
    """The records ``index`` (clean, in order) parsed by Arrow; None if Arrow does not see
    exactly those records (then the reference reads them). Arrow counts each record's fields
    as csv does (clean records are quoted the ordinary way): those it finds with another count
    than ``width`` it skips and names (single-threaded, so that it numbers them)."""
    starts, ends = block.starts[index], block.ends[index]
    breaks = np.flatnonzero(starts[1:] != ends[:-1]) + 1  # runs of adjacent records: one slice each
    run_starts = starts[np.concatenate(([0], breaks))].tolist()
    run_ends = ends[np.concatenate((breaks - 1, [len(index) - 1]))].tolist()
    view = memoryview(block.data)
    if len(run_starts) == 1:
        data = pa.py_buffer(view[run_starts[0] : run_ends[0]])
    else:
        data = pa.py_buffer(b"".join(view[s:e] for s, e in zip(run_starts, run_ends)))
    names = [f"f{i}" for i in range(width)]
    skipped: list[int | None] = []

    def skip(row) -> str:
        skipped.append(row.number)  # 1-based, among the records given
        return "skip"

    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(column_names=names, use_threads=False, block_size=1 << 20),
            parse_options=pacsv.ParseOptions(newlines_in_values=newlines_in_values, invalid_row_handler=skip),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        LOG.warning("Arrow could not read a block of %d records (%s); the reference reads them", len(index), exc)
        return None
    if None in skipped or table.num_rows + len(skipped) != len(index):
        LOG.warning("Arrow read %d rows (and skipped %d) where the scan found %d records; the reference reads them",
                    table.num_rows, len(skipped), len(index))
        return None
    return _ArrowRows(table, np.asarray(skipped, dtype=np.int64) - 1)


def rejected_positions(index: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Rows of the Arrow table (one per clean record, in order) holding ``rejected`` records."""
    return np.searchsorted(index, rejected)


def _rows_of(table: pa.Table, rows: np.ndarray) -> list[list[str]]:
    """Fields of some table rows, as csv gives them (lists of str)."""
    columns = [column.to_pylist() for column in table.take(pa.array(rows)).columns]
    return [list(values) for values in zip(*columns)]


class _Decided:
    """Records rejected for a reason the vectorized checks are certain of (rules.py's wording)."""

    def __init__(self) -> None:
        self.records: list[np.ndarray] = []
        self.keys: list[np.ndarray] = []
        self.columns: list[np.ndarray] = []

    def add(self, records: np.ndarray, key: str, column: str | None) -> None:
        if len(records):
            self.records.append(records)
            self.keys.append(np.full(len(records), key, dtype=object))
            self.columns.append(np.full(len(records), column, dtype=object))

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(record indexes in file order, their reason keys, their columns)."""
        records = np.concatenate(self.records)
        order = np.argsort(records, kind="stable")
        return records[order], np.concatenate(self.keys)[order], np.concatenate(self.columns)[order]


def _record_bytes(block: RecordBlock, records: np.ndarray) -> pa.Array:
    """The exact bytes of some records (line ends included), as a binary array."""
    starts, ends = block.starts[records].tolist(), block.ends[records].tolist()
    offsets = np.zeros(len(records) + 1, dtype=np.int32)
    np.cumsum(block.ends[records] - block.starts[records], out=offsets[1:])
    view = memoryview(block.data)
    data = b"".join([view[s:e] for s, e in zip(starts, ends)])
    return pa.Array.from_buffers(pa.binary(), len(records), [None, pa.py_buffer(offsets), pa.py_buffer(data)])


def _deadletter_table(block: RecordBlock, records: np.ndarray, keys: np.ndarray, columns: np.ndarray,
                      stamp: Stamp) -> pa.Table:
    """Deadletter rows for decided records: outputs.deadletter_row's values, built by column.
    Decided records are valid UTF-8, so their readable text is their bytes."""
    raw = _record_bytes(block, records)
    schema = deadletter_schema()
    n = len(records)
    arrays = {
        **_stamp_columns(schema, stamp, n),
        "_line_number": pa.array(block.lines[records], pa.int64()),
        "raw_bytes": raw,
        "raw_line": raw.cast(pa.string()),
        "reason": pa.array(keys.tolist(), pa.string()),
        "column_name": pa.array(columns.tolist(), pa.string()),
    }
    return table_of(schema, [arrays[f.name] for f in schema])


def _constant(value: str, n: int) -> pa.Array:
    """``n`` times ``value``, as a one-word dictionary array (see outputs.stored_schema)."""
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value], pa.string()))


def _stamp_columns(schema: pa.Schema, stamp: Stamp, n: int) -> dict[str, pa.Array]:
    """What every row of one file carries (Stamp.where but the line), as ``n``-long columns."""
    return {
        "_batch_id": _constant(stamp.batch_id, n),
        "_ingested_at": pa.repeat(pa.scalar(stamp.ingested_at_time, schema.field("_ingested_at").type), n),
        "_source_file": _constant(stamp.source_file, n),
    }


class ColumnarValidator:
    """Validates whole files of one feed (see the docstring of feedline.validate.columnar)."""

    def __init__(self, contract: Contract, block_size: int = BLOCK_SIZE):
        self.contract = contract
        self.block_size = block_size
        self.day_column = partition_column(contract)

    def validate(
        self, stream: BinaryIO, stamp: Stamp, file_range: FileRange = WHOLE_FILE
    ) -> Iterator[Chunk | FileSummary]:
        """Chunks of valid and deadletter rows (Arrow tables), then the FileSummary of what was read
        (the whole file, or one range of it: ``stream`` is then the range's bytes)."""
        summary = FileSummary(self.contract.feed, reasons={})
        plan: HeaderPlan | None = None
        width = 0
        try:
            if file_range.header is not None:
                plan = plan_header(self.contract, list(file_range.header))
                summary.note_header(plan)
                width = len(file_range.header)
            blocks = iter_blocks(stream, self.block_size, file_range.first_line, at_file_start=file_range.index == 0)
            for block in blocks:
                if plan is None:
                    header = block.record(0)
                    plan = plan_header(self.contract, header.fields)
                    summary.note_header(plan)
                    width = len(header.fields)
                    block = block.without_first()
                    if not len(block):
                        continue
                yield from self.validate_block(block, plan, width, stamp, summary)
            if plan is None:
                raise FileRejected("empty file: no header")
        except FileRejected as exc:
            summary.file_error = exc.reason
        yield summary

    def validate_block(
        self, block: RecordBlock, plan: HeaderPlan, width: int, stamp: Stamp, summary: FileSummary
    ) -> Iterator[Chunk]:
        """Chunks for the block's records, read as ``plan`` says; adds them to ``summary``."""
        contract, positions = plan.contract, list(plan.positions)
        schema = valid_schema(self.contract, plan.added)
        facts = _block_facts(block)
        index = np.flatnonzero(facts.clean)
        parsed = _arrow_rows(block, index, width, facts.quoted_newlines) if len(index) else None
        fast = np.zeros(len(block), dtype=bool)  # records decided here, not by the reference
        decided = _Decided()
        table = None
        if parsed is not None:
            # The reference's first check: the field count (clean records are valid UTF-8).
            decided.add(index[parsed.wrong_width], f"{WRONG_FIELD_COUNT}: expected {width}", None)
            index = np.delete(index, parsed.wrong_width)
            table = parsed.table if len(index) else None
        if table is not None:
            ok = np.ones(len(index), dtype=bool)  # so far: every column certainly valid
            checked: dict[str, Checked] = {}
            days = None
            for column, position in zip(contract.columns, positions):
                checked[column.name] = result = check_column(
                    column, combined(table.column(position)), facts.ascii_only, want_day=column.name == self.day_column
                )
                for reason, certain in result.rejected.items():  # the row's first invalid column
                    decided.add(index[ok & certain], RowError(reason, column.name).key, column.name)
                ok &= result.ok
                days = result.day if result.day is not None else days
            fast[index[ok]] = True
            accepted = int(ok.sum())
            if accepted:
                keep = None if ok.all() else pa.array(ok)
                lines = block.lines[index] if keep is None else block.lines[index[ok]]
                yield Chunk(VALID, self._valid_table(schema, checked, stamp, keep, lines))
                summary.rows_read += accepted
                summary.rows_valid += accepted
                if days is not None:
                    extremes = pc.min_max(days if keep is None else pc.filter(days, keep)).as_py()
                    summary.include_days(*(d and d.isoformat() for d in (extremes["min"], extremes["max"])))
        if decided.records:
            records, keys, columns = decided.arrays()
            fast[records] = True
            yield Chunk(DEADLETTER, _deadletter_table(block, records, keys, columns, stamp))
            summary.add_rejections(keys)
        # What the fast path did not decide, the reference decides (and gives the reason). For
        # clean records Arrow's fields are csv's: only the others are read by csv again.
        valid, dead = [], []
        rejected = index[~ok & ~fast[index]] if table is not None else np.empty(0, np.int64)
        fields = dict(zip(rejected.tolist(), _rows_of(table, rejected_positions(index, rejected)))) if len(rejected) else {}
        for i in np.flatnonzero(~fast).tolist():
            record = block.record(i, fields.get(i))
            outcome = validate_record(contract, positions, width, record)
            summary.add(outcome, self.day_column)
            if isinstance(outcome, RowError):
                dead.append(deadletter_row(record, outcome, stamp))
            else:
                valid.append({**outcome, **stamp.where(record.line_number)})
        if valid:
            yield Chunk(VALID, rows_table(schema, valid))
        if dead:
            yield Chunk(DEADLETTER, deadletter_table(dead))

    @staticmethod
    def _valid_table(
        schema: pa.Schema, checked: dict[str, Checked], stamp: Stamp, keep: pa.Array | None, lines: np.ndarray
    ) -> pa.Table:
        """The kept rows as a table of ``schema``: checked columns, the stamps, NULL for the
        schema's columns the file does not have."""
        n = len(lines)
        stamps = _stamp_columns(schema, stamp, n)
        arrays = []
        for f in schema:
            if f.name in checked:
                values = checked[f.name].values
                arrays.append(values if keep is None else pc.filter(values, keep))
            elif f.name in stamps:
                arrays.append(stamps[f.name])
            elif f.name == "_line_number":
                arrays.append(pa.array(lines, pa.int64()))
            else:
                arrays.append(pa.nulls(n, f.type))
        return table_of(schema, arrays)
