"""Validating: the facts of a block of records, and whole files (:class:`ColumnarValidator`)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from feedline.contract.model import Contract
from feedline.validate.columnar.arrow import combined, json_quoted, string_offsets, string_scalar
from feedline.validate.columnar.blocks import (
    BACKSLASH,
    BLOCK_SIZE,
    COMMA,
    QUOTE,
    RecordBlock,
    iter_blocks,
    terminator_lengths,
)
from feedline.validate.columnar.checks import Checked, check_column
from feedline.validate.columnar.ranges import WHOLE_FILE, FileRange
from feedline.validate.csvio import FileRejected
from feedline.validate.outputs import DEADLETTER, VALID, Chunk, DeadletterLines, Stamp, valid_line
from feedline.validate.header import HeaderPlan, plan_header
from feedline.validate.rules import FileSummary, RowError, partition_column, validate_record

LOG = logging.getLogger(__name__)
STAMP_FIELDS = ("_batch_id", "_ingested_at", "_line_number", "_source_file")


@dataclass
class _BlockFacts:
    clean: np.ndarray  # per record: right field count, no NUL, valid UTF-8, ordinary quoting
    escape: np.ndarray  # per record: a value may hold a character JSON escapes (", \\, control)
    ascii_only: bool
    quoted_newlines: bool  # some clean record has a line end inside quotes


def _owners(starts: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """Index of the record each byte position falls in."""
    return np.searchsorted(starts, positions, side="right") - 1


def _block_facts(block: RecordBlock, width: int) -> _BlockFacts:
    a = np.frombuffer(block.data, dtype=np.uint8)
    n = len(block)
    starts, ends = block.starts, block.ends
    base, stop = int(starts[0]), int(ends[-1])
    span = a[base:stop]
    # Fields per record: one more than its commas, less the commas inside quoted fields.
    commas = np.flatnonzero(span == COMMA) + base
    widths = np.searchsorted(commas, ends) - np.searchsorted(commas, starts) + 1
    escape = np.zeros(n, dtype=bool)
    quotes = np.flatnonzero(span == QUOTE) + base if block.has_quotes else np.empty(0, np.int64)
    if len(quotes):
        owner = _owners(starts, quotes)
        rank = np.arange(len(quotes)) - np.searchsorted(quotes, starts)[owner]
        # In a record csv reads without help, quotes pair up: opening (even rank), closing.
        opening = np.flatnonzero(rank % 2 == 0)
        opening = opening[(opening + 1 < len(quotes))]
        opening = opening[owner[opening + 1] == owner[opening]]
        inside = np.searchsorted(commas, quotes[opening + 1]) - np.searchsorted(commas, quotes[opening])
        widths = widths - np.bincount(owner[opening], weights=inside, minlength=n).astype(np.int64)
        doubled = quotes[:-1][np.diff(quotes) == 1]  # "" : an escaped quote (or an empty value)
        escape[owner[np.searchsorted(quotes, doubled)]] = True
    clean = widths == width
    if block.tokenized:
        clean[list(block.tokenized)] = False
    # Control bytes beyond the record's own line end: quoted line ends, tabs, NUL. Counted
    # first: most blocks have none, and then no record needs looking at.
    terminator = terminator_lengths(a, starts, ends)
    extra = np.zeros(n, dtype=bool)
    is_control = span < 0x20
    if np.count_nonzero(is_control) > terminator.sum():
        controls = np.flatnonzero(is_control) + base
        extra = (np.searchsorted(controls, ends) - np.searchsorted(controls, starts)) > terminator
        escape |= extra
        nul = controls[a[controls] == 0]
        if len(nul):
            clean[_owners(starts, nul)] = False
    if block.data.find(b"\\", base, stop) >= 0:
        backslashes = np.flatnonzero(span == BACKSLASH) + base
        escape[_owners(starts, backslashes)] = True
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
    quoted_newlines = bool(len(quotes) and (extra & clean).any())
    return _BlockFacts(clean, escape, ascii_only=ascii_only, quoted_newlines=quoted_newlines)


def _arrow_rows(block: RecordBlock, index: np.ndarray, width: int, newlines_in_values: bool) -> pa.Table | None:
    """The records ``index`` (clean, in order) parsed by Arrow, all columns as strings; None
    if Arrow does not see exactly those records (then the reference reads them)."""
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
    try:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=pacsv.ReadOptions(
                column_names=names, use_threads=True, block_size=1 << 20
            ),
            parse_options=pacsv.ParseOptions(newlines_in_values=newlines_in_values),
            convert_options=pacsv.ConvertOptions(
                column_types={name: pa.string() for name in names}, strings_can_be_null=False
            ),
        )
    except pa.ArrowInvalid as exc:
        LOG.warning("Arrow could not read a block of %d records (%s); the reference reads them", len(index), exc)
        return None
    if table.num_rows != len(index):
        LOG.warning("Arrow read %d rows where the scan found %d records; the reference reads them",
                    table.num_rows, len(index))
        return None
    return table


def rejected_positions(index: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """Rows of the Arrow table (one per clean record, in order) holding ``rejected`` records."""
    return np.searchsorted(index, rejected)


def _rows_of(table: pa.Table, rows: np.ndarray) -> list[list[str]]:
    """Fields of some table rows, as csv gives them (lists of str)."""
    columns = [column.to_pylist() for column in table.take(pa.array(rows)).columns]
    return [list(values) for values in zip(*columns)]


class ColumnarValidator:
    """Validates whole files of one feed (see the docstring of feedline.validate.columnar)."""

    def __init__(self, contract: Contract, block_size: int = BLOCK_SIZE):
        self.contract = contract
        self.block_size = block_size
        self.day_column = partition_column(contract)

    def validate(
        self, stream: BinaryIO, stamp: Stamp, file_range: FileRange = WHOLE_FILE
    ) -> Iterator[Chunk | FileSummary]:
        """Chunks of valid and deadletter JSON lines, then the FileSummary of what was read
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
        facts = _block_facts(block, width)
        index = np.flatnonzero(facts.clean)
        table = _arrow_rows(block, index, width, facts.quoted_newlines) if len(index) else None
        fast = np.zeros(len(block), dtype=bool)
        if table is not None:
            ok = np.ones(len(index), dtype=bool)
            rendered: dict[str, Checked] = {}
            days = None
            for column, position in zip(contract.columns, positions):
                checked = check_column(
                    column,
                    combined(table.column(position)),
                    facts.ascii_only,
                    facts.escape[index],
                    want_day=column.name == self.day_column,
                )
                ok &= checked.ok
                rendered[column.name] = checked
                days = checked.day if checked.day is not None else days
            fast[index[ok]] = True
            accepted = int(ok.sum())
            if accepted:
                keep = None if ok.all() else pa.array(ok)
                lines = block.lines[index] if keep is None else block.lines[index[ok]]
                rendered["_line_number"] = Checked(ok, pc.cast(pa.array(lines), pa.string()), quoted=False)
                yield Chunk(VALID, self._json_lines(contract, rendered, stamp, keep), accepted)
                summary.rows_read += accepted
                summary.rows_valid += accepted
                if days is not None:
                    extremes = pc.min_max(days if keep is None else pc.filter(days, keep)).as_py()
                    summary.include_days(extremes["min"], extremes["max"])
        # What the fast path did not accept, the reference decides (and gives the reason). For
        # clean records Arrow's fields are csv's: only the others are read by csv again.
        valid, dead = [], []
        dead_line = DeadletterLines(stamp)
        rejected = index[~ok] if table is not None else np.empty(0, np.int64)
        fields = dict(zip(rejected.tolist(), _rows_of(table, rejected_positions(index, rejected)))) if len(rejected) else {}
        for i in np.flatnonzero(~fast).tolist():
            record = block.record(i, fields.get(i))
            outcome = validate_record(contract, positions, width, record)
            summary.add(outcome, self.day_column)
            if isinstance(outcome, RowError):
                dead.append(dead_line(record, outcome))
            else:
                valid.append(valid_line(outcome, stamp, record.line_number))
        if valid:
            yield Chunk(VALID, "\n".join(valid).encode("utf-8"), len(valid))
        if dead:
            yield Chunk(DEADLETTER, "\n".join(dead).encode("utf-8"), len(dead))

    def _json_lines(
        self, contract: Contract, rendered: dict[str, Checked], stamp: Stamp, keep: pa.Array | None
    ) -> pa.Buffer:
        """One JSON object per kept row as outputs.dumps writes it; newline-joined.

        Constant text (keys, stamps, the quotes of values that are never NULL) goes into the
        template; only the values vary."""
        constants = {
            "_batch_id": stamp.batch_id,
            "_ingested_at": stamp.ingested_at,
            "_source_file": stamp.source_file,
        }
        pieces: list[Any] = []
        text = ""
        # The file's columns (its plan's contract: drifted columns left out or added), sorted as dumps sorts.
        for i, key in enumerate(sorted([*contract.column_names, *STAMP_FIELDS])):
            text += ("{" if i == 0 else ",") + json.dumps(key) + ":"
            if key in constants:
                text += json.dumps(constants[key], ensure_ascii=False)
                continue
            checked = rendered[key]
            values = checked.json if keep is None or key == "_line_number" else pc.filter(checked.json, keep)
            if checked.quoted and values.null_count == 0:
                pieces += [string_scalar(text + '"'), values]
                text = '"'
            else:
                pieces += [string_scalar(text), pc.fill_null(json_quoted(values) if checked.quoted else values, string_scalar("null"))]
                text = ""
        pieces.append(string_scalar(text + "}\n"))
        lines = pc.binary_join_element_wise(*pieces, string_scalar(""))
        offsets = string_offsets(lines)
        # The text of all lines, no copy (a copy of ~70 MB per block costs a fresh mmap).
        return lines.buffers()[2][int(offsets[0]) : int(offsets[-1]) - 1]
