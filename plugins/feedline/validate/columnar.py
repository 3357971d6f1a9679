"""Columnar validation: the fast path, with exactly the outputs of the row-by-row reference.

Per-row Python work is what an ingestion job pays for, so this module validates a feed file in
blocks of records with numpy and Arrow, and hands every record it cannot decide on its own to
the reference (:mod:`feedline.validate.csvio` + :func:`feedline.validate.rules.validate_record`). The two
paths produce the same valid rows (same typed values), the same deadletter rows (same raw text,
line number and reason) and the same per-file summary; tests check this on generated files,
on the csv-spectrum suite and on every input quirk below. Imports neither Airflow nor Beam.

How a file is read:

1. The (decompressed) byte stream is read in blocks of ``block_size`` bytes. A block is cut at
   the last record boundary found by tracking quote state (numpy: positions of ``"``, CR, LF),
   so a quoted newline never splits a record; the rest is carried into the next block.
   Physical line numbers are counted alongside (LF, CRLF and lone CR each end a line).
2. Quote state from quote parity is exact only while quoting is well-formed: every opening
   quote starts a field, every closing quote ends one. The first quote that breaks that rule
   ("odd quoting": ``ab"c``, ``"ab"c``, an unclosed quote) hands its record to Python's csv
   module, exactly as the reference reads it; the scan resumes after that record. Records
   longer than ``csvio.FIELD_SIZE_LIMIT`` bytes also go to csv, which enforces the limit.
3. Records with the right field count, no NUL byte and valid UTF-8 are parsed by Arrow's CSV
   reader; every column is trimmed of what ``str.strip()`` trims and checked with Arrow
   compute kernels. A check only accepts what the reference certainly accepts; everything
   else (bad rows, non-ASCII values in typed columns, values a kernel cannot decide) is
   validated row by row by the reference, which also gives the reason.
4. Valid rows are rendered as JSON lines by Arrow kernels, byte for byte what
   :func:`feedline.validate.outputs.dumps` writes; values that need JSON escaping are escaped by
   ``json.dumps`` itself.

Input quirks and their outcomes (the reference's decisions, shared by both paths; tests in
tests/beam/test_quirks.py):

- UTF-8 BOM: dropped at the start of the (decompressed) file only.
- CRLF, LF, lone CR and mixed line ends: each ends a line and, outside quotes, a record.
- Quoted newlines and escaped quotes (``""``): part of the value; the record keeps its first
  line's number.
- Blank lines (anywhere, trailing too): not records, not counted; line numbers still count them.
- A row with more or fewer fields than the header: deadletter "wrong number of fields: expected N".
- Header: columns matched by name in any order; a missing, unexpected or duplicate name
  rejects the file ("header does not match ..." / "header has duplicate column names: ...").
- Bytes that are not UTF-8: deadletter "not valid UTF-8"; the raw line shows them as ``\\xNN``.
- NUL bytes: deadletter "contains a NUL byte".
- A value longer than its column's ``max_length``: deadletter "<column>: longer than N
  characters"; a field longer than ``FIELD_SIZE_LIMIT`` (a runaway quote) rejects the file.
- Leading/trailing whitespace (what ``str.strip()`` removes) is trimmed; an empty field, quoted
  (``""``) or not, is NULL ("<column>: required value is missing" if required).
- NUMERIC with thousands separators or an exponent: deadletter "not a plain decimal NUMERIC".
- TIMESTAMP with a zone is converted to UTC, without one is read as UTC; DATE 2026-02-30:
  deadletter "date does not exist".
- gzip (by magic bytes): a truncated or corrupt stream rejects the file ("unreadable compressed
  file at line N: ...") after the rows before the break, as the reference does.
- Empty file: rejected ("empty file: no header"); header only: accepted with zero rows.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import logging
import re
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from feedline.contract.model import Column, Contract
from feedline.validate.csvio import FIELD_SIZE_LIMIT, GZIP_MAGIC, FileRejected, Record
from feedline.validate.outputs import DEADLETTER, VALID, Chunk, DeadletterLines, Stamp, valid_line
from feedline.validate.rules import (
    FileSummary,
    RowError,
    check_header,
    partition_column,
    validate_record,
)

LOG = logging.getLogger(__name__)
BLOCK_SIZE = 16 * 1024 * 1024
BOM = b"\xef\xbb\xbf"
QUOTE, COMMA, LF, CR, BACKSLASH = 34, 44, 10, 13, 92
# Bytes that may precede an opening quote (field start) / follow a closing quote (field end).
_FIELD_EDGE = np.array([COMMA, LF, CR, QUOTE], dtype=np.uint8)
# Exactly what str.strip() removes (str.isspace(); a test compares with all of Unicode).
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
ASCII_WHITESPACE = "".join(c for c in PY_WHITESPACE if c < "\x80")

# RE2 twins of validation.py's patterns. They see ASCII-only values (others go to the
# reference), where Python's \d is [0-9] and \s is ASCII_WHITESPACE; $ after strip() is the end.
_NUMERIC = r"^[+-]?[0-9]{1,29}(\.[0-9]{1,9})?$"
_INT64_18 = r"^[+-]?[0-9]{1,18}$"  # 19 digits may overflow: the reference decides those
_FLOAT64 = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,6})?"
    r"(Z|z| UTC|[+-][0-9]{2}:?[0-9]{2})?$"
)
_TIMESTAMP_REST = r"^(\.[0-9]{1,6})?(Z|z| UTC|[+-][0-9]{2}:?[0-9]{2})?$"
_TIMESTAMP_TAIL = r"^(?:\.(?P<frac>[0-9]{1,6}))?(?:(?P<utc>Z|z| UTC)|(?P<sign>[+-])(?P<oh>[0-9]{2}):?(?P<om>[0-9]{2}))?$"
_NOT_SPACE_AT = r"[^@\t\n\x0b\x0c\r\x1c-\x1f ]"
_EMAIL = rf"^{_NOT_SPACE_AT}+@{_NOT_SPACE_AT}+\.{_NOT_SPACE_AT}+$"
# Microseconds since the epoch of 0001-01-01T00:00:00 and of 9999-12-31T23:59:59.999999 (UTC).
_MIN_US, _MAX_US = -62135596800 * 10**6, 253402300800 * 10**6 - 1

STAMP_FIELDS = ("_batch_id", "_ingested_at", "_line_number", "_source_file")


# --------------------------------------------------------------------------------------------
# Reading: the byte stream as record-aligned blocks
# --------------------------------------------------------------------------------------------


@dataclass
class RecordBlock:
    """Consecutive non-blank records of a file; spans index into ``data``."""

    data: bytes
    starts: np.ndarray  # int64 offset of each record's first byte
    ends: np.ndarray  # int64 offset after its line terminator (or end of file)
    lines: np.ndarray  # int64 physical line of each record's first byte (header = 1)
    tokenized: dict[int, list[str]] = field(default_factory=dict)  # fields csv already read
    has_quotes: bool = True
    offset: int = 0  # of data[0] in the stream (BOM included)

    def __len__(self) -> int:
        return len(self.starts)

    def raw(self, i: int) -> str:
        return self.data[self.starts[i] : self.ends[i]].decode("utf-8", "surrogateescape")

    def without_first(self) -> "RecordBlock":
        return RecordBlock(
            self.data,
            self.starts[1:],
            self.ends[1:],
            self.lines[1:],
            {i - 1: f for i, f in self.tokenized.items() if i > 0},
            self.has_quotes,
            self.offset,
        )

    def record(self, i: int, fields: list[str] | None = None) -> Record:
        """Record ``i`` as the reference reads it (csv on the record's own lines: the same
        lines csv would be fed in the stream, because the boundaries are exact), unless its
        ``fields`` are known already."""
        raw = self.raw(i)
        fields = fields if fields is not None else self.tokenized.get(i)
        if fields is None:
            fields = next(csv.reader(io.StringIO(raw, newline=""), strict=False))
        return Record(int(self.lines[i]), raw, fields)


class _Lines:
    """Lines of a text for csv.reader, remembering how many characters were handed out."""

    def __init__(self, text: str):
        self._text = io.StringIO(text, newline="")
        self.taken: list[str] = []

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        line = self._text.readline()
        if not line:
            raise StopIteration
        self.taken.append(line)
        return line


def _csv_record(buf: bytes, start: int, eof: bool, line: int) -> tuple[list[str], int] | None:
    """The record starting at ``buf[start]`` as csv reads it: (fields, end offset), or None
    when ``buf`` ends before the record does (more data needed). FileRejected if csv fails."""
    window = 64 * 1024
    while True:
        stop = min(len(buf), start + window)
        at_end = stop == len(buf)
        lines = _Lines(buf[start:stop].decode("utf-8", "surrogateescape"))
        try:
            fields = next(csv.reader(lines, strict=False), None)
        except csv.Error as exc:
            raise FileRejected(f"unparseable CSV at line {line}: {exc}") from exc
        consumed = "".join(lines.taken).encode("utf-8", "surrogateescape")
        end = start + len(consumed)
        # Complete if csv stopped before the window's end (its last line had a terminator it
        # could see), or the window reaches the true end of the file.
        if fields is not None and (end < stop or (at_end and eof)):
            return fields, end
        if at_end:
            if eof:  # nothing but an empty tail: cannot happen for a non-blank record start
                return ([] if fields is None else fields), end
            return None
        window *= 4


def _line_ends(a: np.ndarray, eof: bool) -> np.ndarray:
    """Offsets of the last byte of every line terminator (LF, the LF of CRLF, lone CR).

    A CR in the last byte is left out unless at end of file: an LF may follow."""
    lf = np.flatnonzero(a == LF)
    cr = np.flatnonzero(a == CR)
    if len(cr) == 0:
        return lf
    n = len(a)
    follower = np.full(len(cr), -1, dtype=np.int16)
    inside = cr + 1 < n
    follower[inside] = a[cr[inside] + 1]
    lone = cr[follower != LF]
    if not eof and len(lone) and lone[-1] == n - 1:
        lone = lone[:-1]
    if len(lone) == 0:
        return lf
    return np.union1d(lf, lone)


@dataclass
class _Scan:
    starts: list[np.ndarray]
    ends: list[np.ndarray]
    tokenized: dict[int, tuple[list[str], int]]  # start offset -> (fields, end)
    consumed: int
    error: FileRejected | None = None  # raised after the records before it are handed out


def _scan(buf: bytes, eof: bool, first_line: int, line_ends: np.ndarray) -> _Scan:
    """Record spans of ``buf`` (which starts at a record boundary), exact as csv reads them."""
    a = np.frombuffer(buf, dtype=np.uint8)
    n = len(a)
    q = np.flatnonzero(a == QUOTE)
    starts: list[np.ndarray] = []
    ends: list[np.ndarray] = []
    tokenized: dict[int, tuple[list[str], int]] = {}

    if len(q):
        before = np.full(len(q), QUOTE, dtype=np.uint8)  # buffer start: a record start
        before[q > 0] = a[q[q > 0] - 1]
        after = np.full(len(q), QUOTE if eof else 0, dtype=np.uint8)  # EOF ends a field
        after[q < n - 1] = a[q[q < n - 1] + 1]
        bad_open = ~np.isin(before, _FIELD_EDGE)
        bad_close = ~np.isin(after, _FIELD_EDGE)
        even = (np.arange(len(q)) % 2) == 0
        # bad_if[p]: quotes that break the rules when quote index parity p opens a field.
        bad_if = (
            np.flatnonzero(np.where(even, bad_open, bad_close)),
            np.flatnonzero(np.where(even, bad_close, bad_open)),
        )
        quotes_before_end = np.searchsorted(q, line_ends)
    else:
        bad_if = (np.empty(0, np.int64), np.empty(0, np.int64))
        quotes_before_end = None

    def line_of(offset: int) -> int:
        return first_line + int(np.searchsorted(line_ends, offset))

    pos = 0
    error = None
    while pos < n:
        k0 = int(np.searchsorted(q, pos)) if len(q) else 0
        bad = bad_if[k0 % 2]
        j = int(np.searchsorted(bad, k0))
        bad_at = int(q[bad[j]]) if j < len(bad) else None
        lo, hi = np.searchsorted(line_ends, [pos, n if bad_at is None else bad_at])
        terms = line_ends[lo:hi]
        if quotes_before_end is not None:
            terms = terms[(quotes_before_end[lo:hi] - k0) % 2 == 0]
        seg_starts = np.concatenate(([pos], terms[:-1] + 1)) if len(terms) else terms
        seg_ends = terms + 1
        # csv itself reads what the scan cannot vouch for: a record with odd quoting, an
        # unclosed quote at the end of the file, and any record longer than the field size
        # limit (csv enforces the limit, and rejects the file there).
        too_long = np.flatnonzero(seg_ends - seg_starts > FIELD_SIZE_LIMIT)
        if len(too_long):
            k = int(too_long[0])
            starts.append(seg_starts[:k])
            ends.append(seg_ends[:k])
            pos = int(seg_starts[k])
        else:
            starts.append(seg_starts)
            ends.append(seg_ends)
            pos = int(terms[-1]) + 1 if len(terms) else pos
            if bad_at is None:
                tail_is_open = len(q) and (len(q) - int(np.searchsorted(q, pos))) % 2 == 1
                if pos < n and eof and not tail_is_open and n - pos <= FIELD_SIZE_LIMIT:
                    starts.append(np.array([pos]))
                    ends.append(np.array([n]))
                    pos = n
                if not (pos < n and (eof or n - pos > 2 * FIELD_SIZE_LIMIT)):
                    break
        try:
            got = _csv_record(buf, pos, eof, line_of(pos))
        except FileRejected as exc:
            error = exc
            break
        if got is None:
            break
        fields, end = got
        tokenized[pos] = (fields, end)
        starts.append(np.array([pos]))
        ends.append(np.array([end]))
        pos = end
    return _Scan(starts, ends, tokenized, pos, error)


# What csvio's TextIOWrapper asks its buffer for at a time (io.TextIOWrapper._CHUNK_SIZE).
TEXT_CHUNK = 8192


def _open_bytes(stream: BinaryIO, detect_gzip: bool = True) -> tuple[Any, int | None]:
    """(byte source, read size). A gzip stream is read through the same stack and in the same
    chunks as csvio.open_decoded reads it, so a truncated stream breaks at the same byte: the
    chunk in flight when gzip fails is lost there too."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)
    if detect_gzip and buffered.peek(2)[:2] == GZIP_MAGIC:
        return io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb")), TEXT_CHUNK
    return buffered, None


def _read_block(source: Any, size: int, chunk: int | None) -> tuple[bytes, bool, BaseException | None]:
    """(at least ``size`` bytes unless the stream ends, end reached, read error). Reads are
    ``chunk`` bytes each when the source is gzip (see _open_bytes). On an error: what was read
    before it."""
    parts, total = [], 0
    try:
        while total < size:
            part = source.read1(chunk or size - total)
            if not part:
                return b"".join(parts), True, None
            parts.append(part)
            total += len(part)
    except (EOFError, OSError, zlib.error) as exc:
        return b"".join(parts), False, exc
    return b"".join(parts), False, None


def iter_blocks(
    stream: BinaryIO, block_size: int = BLOCK_SIZE, first_line: int = 1, at_file_start: bool = True
) -> Iterator[RecordBlock]:
    """Every non-blank record of the stream, in record-aligned blocks, header first.

    Raises FileRejected as :func:`feedline.validate.csvio.iter_records` does, after yielding the
    records that come before the failure. ``at_file_start=False`` reads a range of a plain
    file that starts at a record boundary on line ``first_line`` (no gzip, no BOM).
    """
    source, chunk_size = _open_bytes(stream, detect_gzip=at_file_start)
    carry = b""
    line = first_line
    offset = 0  # of buf[0] in the (decompressed) stream
    first = at_file_start
    while True:
        # (the first read is long enough to tell whether the file starts with a BOM)
        chunk, eof, error = _read_block(source, max(block_size, len(BOM)) if first else block_size, chunk_size)
        if first:
            first = False
            if chunk.startswith(BOM):
                chunk, offset = chunk[len(BOM) :], len(BOM)
        buf = carry + chunk if carry else chunk
        if not buf and eof:
            return
        a = np.frombuffer(buf, dtype=np.uint8)
        line_ends = _line_ends(a, eof)
        scan = _scan(buf, eof, line, line_ends)
        if any(len(part) for part in scan.starts):
            starts = np.concatenate(scan.starts).astype(np.int64)
            ends = np.concatenate(scan.ends).astype(np.int64)
            last = ends - 1
            ends_lf = a[last] == LF
            crlf = ends_lf & (last - 1 >= starts)
            crlf[crlf] = a[last[crlf] - 1] == CR
            terminator = np.where(ends_lf, 1 + crlf, a[last] == CR)
            keep = (ends - starts) > terminator  # blank lines are not records
            lines = line + np.searchsorted(line_ends, starts)
            kept = starts[keep]
            tokenized = {
                int(np.searchsorted(kept, start)): fields for start, (fields, _end) in scan.tokenized.items()
            }
            block = RecordBlock(
                buf, kept, ends[keep], lines[keep], tokenized, has_quotes=QUOTE in buf, offset=offset
            )
            if len(block):
                yield block
        if scan.error is not None:
            raise scan.error
        line += int(np.searchsorted(line_ends, scan.consumed))
        offset += scan.consumed
        carry = buf[scan.consumed :]
        if error is not None:
            raise FileRejected(f"unreadable compressed file at line {line}: {error}") from error
        if eof:
            return


# --------------------------------------------------------------------------------------------
# Ranges: one large plain file read by several workers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileRange:
    """Bytes [start, end) of a file, starting at a record on line ``first_line``.

    Range 0 starts at the file's first byte (header, BOM, gzip all handled as usual); the
    others carry the header's fields, read once when the ranges were planned."""

    index: int
    count: int
    start: int = 0
    end: int | None = None  # None: to the end of the file
    first_line: int = 1
    header: tuple[str, ...] | None = None


WHOLE_FILE = FileRange(0, 1)


def plan_ranges(stream: BinaryIO, size: int, contract: Contract, range_bytes: int, block_size: int = BLOCK_SIZE) -> list[FileRange]:
    """Ranges of about ``range_bytes`` that start exactly at records (found by the same scan
    that validation runs, so quoted newlines and odd quoting are respected), or the whole
    file as one range when it is small, gzipped, or anything about it is not plain sailing
    (a bad header, a read error, a runaway field): then one worker reproduces the reference's
    outcome in order."""
    count = size // range_bytes if range_bytes > 0 else 0
    if count < 2:
        return [WHOLE_FILE]
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)
    if buffered.peek(2)[:2] == GZIP_MAGIC:
        return [WHOLE_FILE]
    targets = [size * k // count for k in range(1, count)]
    cuts: list[tuple[int, int]] = []
    header: list[str] | None = None
    try:
        for block in iter_blocks(buffered, block_size):
            if header is None:
                header = block.record(0).fields
                check_header(contract, header)
            absolute = block.starts + block.offset
            while targets and absolute[-1] >= targets[0]:
                i = int(np.searchsorted(absolute, targets.pop(0)))
                if i > 0 or cuts or block.offset > 0:  # never cut before the header
                    if not cuts or cuts[-1][0] < absolute[i]:
                        cuts.append((int(absolute[i]), int(block.lines[i])))
    except FileRejected:
        return [WHOLE_FILE]
    if header is None or not cuts:
        return [WHOLE_FILE]
    cuts = [c for c in cuts if c[0] > 0]
    bounds = [(0, 1), *cuts]
    return [
        FileRange(
            index=k,
            count=len(bounds),
            start=start,
            end=bounds[k + 1][0] if k + 1 < len(bounds) else None,
            first_line=line,
            header=tuple(header) if k else None,
        )
        for k, (start, line) in enumerate(bounds)
    ]


class _Window(io.RawIOBase):
    """Bytes [start, end) of a seekable stream."""

    def __init__(self, stream: BinaryIO, start: int, end: int | None):
        stream.seek(start)
        self._stream, self._left = stream, (None if end is None else end - start)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        want = len(buffer) if self._left is None else min(len(buffer), self._left)
        if want == 0:
            return 0
        data = self._stream.read(want)
        buffer[: len(data)] = data
        if self._left is not None:
            self._left -= len(data)
        return len(data)


def open_range(stream: BinaryIO, file_range: FileRange) -> BinaryIO:
    """The part of a seekable ``stream`` that ``file_range`` covers."""
    if file_range.start == 0 and file_range.end is None:
        return stream
    return io.BufferedReader(_Window(stream, file_range.start, file_range.end), buffer_size=1 << 20)


# --------------------------------------------------------------------------------------------
# Arrow <-> numpy without pandas (pyarrow's to_numpy() imports it: a second per worker)
# --------------------------------------------------------------------------------------------


def _text(value: str | None) -> pa.Scalar:
    return pa.scalar(value, pa.string())


def _quoted(values: pa.Array) -> pa.Array:
    return pc.binary_join_element_wise(_text('"'), values, _text('"'), _text(""))


def _array(values: pa.ChunkedArray | pa.Array) -> pa.Array:
    return values.combine_chunks() if isinstance(values, pa.ChunkedArray) else values


def _bools(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """A boolean Arrow array as numpy (nulls read as False)."""
    values = _array(values)
    if values.null_count:
        values = pc.fill_null(values, False)
    if len(values) == 0:
        return np.zeros(0, dtype=bool)
    bits = np.frombuffer(values.buffers()[1], dtype=np.uint8)
    return np.unpackbits(bits, count=values.offset + len(values), bitorder="little")[values.offset :].astype(bool)


def _ints(values: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """An integer Arrow array without nulls as int64 numpy."""
    values = _array(values)
    dtype = {8: np.int8, 16: np.int16, 32: np.int32, 64: np.int64}[values.type.bit_width]
    data = np.frombuffer(values.buffers()[1], dtype=dtype)
    return data[values.offset : values.offset + len(values)].astype(np.int64, copy=False)


def _offsets(values: pa.Array) -> np.ndarray:
    return np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]


def _fixed_digits(values: pa.Array, positions: list[int]) -> np.ndarray:
    """Digits at fixed character positions of regex-checked ASCII strings: an int64 matrix,
    one row per value, one column per position."""
    data = np.frombuffer(values.buffers()[2], dtype=np.uint8) if len(values) else np.zeros(1, np.uint8)
    return data[_offsets(values)[:-1, None] + np.asarray(positions)].astype(np.int64) - 48


def _fixed_width_strings(matrix: np.ndarray) -> pa.Array:
    """One string per row of a uint8 matrix of ASCII characters."""
    rows, width = matrix.shape
    offsets = np.arange(0, (rows + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(rows, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(matrix)))


def _scatter(size: int, where: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.zeros(size, dtype=bool)
    out[where] = values
    return out


def _scatter_strings(size: int, where: np.ndarray, values: pa.Array) -> pa.Array:
    """A string array of ``size`` with ``values`` at ``where`` and nulls elsewhere."""
    if len(where) == size:
        return values
    index = np.full(size, -1, dtype=np.int64)
    index[where] = np.arange(len(where))
    return values.take(pa.array(index, mask=index < 0))


# --------------------------------------------------------------------------------------------
# Calendar arithmetic (proleptic Gregorian, as Python's datetime), vectorized
# --------------------------------------------------------------------------------------------

_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_DAY_US = 86_400_000_000


def _date_exists(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    month_ok = (m >= 1) & (m <= 12)
    dim = _DAYS_IN_MONTH[np.where(month_ok, m, 0)] + ((m == 2) & leap)
    return (y >= 1) & month_ok & (d >= 1) & (d <= dim)


def _days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (H. Hinnant's days_from_civil)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _civil_from_days(days: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(year, month, day) of days since 1970-01-01 (H. Hinnant's civil_from_days)."""
    z = days + 719468
    era = np.floor_divide(z, 146097)
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    d = doy - (153 * mp + 2) // 5 + 1
    m = mp + np.where(mp < 10, 3, -9)
    return yoe + era * 400 + (m <= 2), m, d


def _utc_text_matrix(micros: np.ndarray) -> np.ndarray:
    """``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (27 ASCII bytes per row) of microseconds since the
    epoch, years 1..9999: the text validation._parse_timestamp writes."""
    days = np.floor_divide(micros, _DAY_US)
    rest = micros - days * _DAY_US
    y, m, d = _civil_from_days(days)
    seconds, fraction = np.divmod(rest, 1_000_000)
    out = np.empty((len(micros), 27), dtype=np.uint8)
    for column, (value, width) in zip(
        (0, 5, 8, 11, 14, 17, 20),
        ((y, 4), (m, 2), (d, 2), (seconds // 3600, 2), (seconds // 60 % 60, 2), (seconds % 60, 2), (fraction, 6)),
    ):
        for k in range(width - 1, -1, -1):
            out[:, column + k] = value % 10 + 48
            value = value // 10
    for column, char in ((4, "-"), (7, "-"), (10, "T"), (13, ":"), (16, ":"), (19, "."), (26, "Z")):
        out[:, column] = ord(char)
    return out


def format_utc_micros(micros: np.ndarray) -> pa.Array:
    """Strings of :func:`_utc_text_matrix` (pyarrow's strftime: about 20x slower)."""
    return _fixed_width_strings(_utc_text_matrix(micros))


# --------------------------------------------------------------------------------------------
# Validating: one column of a block
# --------------------------------------------------------------------------------------------


def _json_escaped(values: pa.Array, candidates: np.ndarray) -> pa.Array:
    """``values`` as they appear between the quotes of a JSON string written by json.dumps.
    Only ``candidates`` may need escaping; json.dumps itself escapes those that do."""
    if not candidates.any():
        return values
    where = np.flatnonzero(candidates)
    texts = values.take(where).to_pylist()
    escaped = [json.dumps(v, ensure_ascii=False)[1:-1] if v is not None else None for v in texts]
    changed = [i for i, (old, new) in enumerate(zip(texts, escaped)) if old != new]
    if not changed:
        return values
    mask = np.zeros(len(values), dtype=bool)
    mask[where[changed]] = True
    return pc.replace_with_mask(values, pa.array(mask), pa.array([escaped[i] for i in changed], pa.string()))


@dataclass
class _Checked:
    ok: np.ndarray  # per row: the reference certainly accepts the value
    json: pa.Array  # JSON text of the typed value, without quotes if ``quoted`` (null: NULL)
    quoted: bool  # a JSON string (STRING, NUMERIC, DATE, TIMESTAMP), else a number or bool
    day: pa.Array | None = None  # YYYY-MM-DD of the partition column's value


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    return _bools(pc.match_substring_regex(values, pattern))


_DIGIT_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]


def _check_timestamps(text: pa.Array, candidates: np.ndarray) -> tuple[np.ndarray, pa.Array]:
    """(certainly valid, normalized UTC text) per value, as validation._parse_timestamp.

    The fixed head ``YYYY-MM-DD?HH:MM:SS`` is checked on its bytes; values already in UTC
    without a fraction (``...SS``, ``...SSZ``) keep their bytes, with ``T`` and ``.000000Z``;
    the others (fraction, offset, `` UTC``) are converted through microseconds since the
    epoch."""
    n = len(text)
    lengths = np.diff(_offsets(text))
    where = np.flatnonzero(candidates & (lengths >= 19) & (lengths <= 32))
    sub = text.take(where) if len(where) < n else text
    offsets = _offsets(sub)
    lengths = np.diff(offsets)
    data = np.frombuffer(sub.buffers()[2], dtype=np.uint8) if len(sub) else np.zeros(20, np.uint8)
    if len(sub) and (lengths == lengths[0]).all():  # one width (the usual case): a matrix view
        head = data[offsets[0] : offsets[-1]].reshape(len(sub), int(lengths[0]))[:, :19]
    else:
        head = data[offsets[:-1, None] + np.arange(19)]
    digits = head[:, _DIGIT_AT].astype(np.int32) - 48
    shaped = (
        (digits.min(axis=1, initial=0) >= 0)
        & (digits.max(axis=1, initial=9) <= 9)
        & (head[:, 4] == ord("-"))
        & (head[:, 7] == ord("-"))
        & ((head[:, 10] == ord("T")) | (head[:, 10] == ord(" ")))
        & (head[:, 13] == ord(":"))
        & (head[:, 16] == ord(":"))
    )

    def number(first: int, count: int) -> np.ndarray:
        out = digits[:, first]
        for k in range(first + 1, first + count):
            out = out * 10 + digits[:, k]
        return out.astype(np.int64)

    y, mo, d, h, mi, s = number(0, 4), number(4, 2), number(6, 2), number(8, 2), number(10, 2), number(12, 2)
    good = shaped & _date_exists(y, mo, d) & (h <= 23) & (mi <= 59) & (s <= 59)
    zone = data[np.minimum(offsets[:-1] + 19, len(data) - 1)]
    simple = (lengths == 19) | ((lengths == 20) & ((zone == ord("Z")) | (zone == ord("z"))))
    out = np.empty((len(sub), 27), dtype=np.uint8)
    out[:, :19] = head
    out[:, 10] = ord("T")
    out[:, 19:] = np.frombuffer(b".000000Z", dtype=np.uint8)
    rest = np.flatnonzero(~simple & good)
    good[~simple] = False
    if len(rest):
        tails = pc.utf8_slice_codeunits(sub.take(rest), 19)
        matched = _bools(pc.match_substring_regex(tails, _TIMESTAMP_REST))
        rest, tails = rest[matched], tails.filter(pa.array(matched))
        parts = pc.extract_regex(tails, _TIMESTAMP_TAIL)
        micros = _ints(pc.cast(pc.utf8_rpad(parts.field("frac"), 6, "0"), pa.int64()))
        sign = parts.field("sign")
        has_offset = pc.not_equal(sign, _text(""))
        oh = _ints(pc.cast(pc.if_else(has_offset, parts.field("oh"), _text("0")), pa.int64()))
        om = _ints(pc.cast(pc.if_else(has_offset, parts.field("om"), _text("0")), pa.int64()))
        minutes = oh * 60 + om
        offset = np.where(_bools(pc.equal(sign, _text("-"))), -minutes, minutes)
        seconds = _days_from_civil(y[rest], mo[rest], d[rest]) * 86400 + h[rest] * 3600 + mi[rest] * 60 + s[rest]
        utc = (seconds - offset * 60) * 1_000_000 + micros
        # validation: an offset of 24 hours or more does not exist; UTC must stay in 1..9999
        fine = (minutes < 24 * 60) & (utc >= _MIN_US) & (utc <= _MAX_US)
        good[rest] = fine
        out[rest] = _utc_text_matrix(np.where(fine, utc, 0))
    return _scatter(n, where, good), _scatter_strings(n, where, _fixed_width_strings(out))


def check_column(
    column: Column, raw: pa.Array, ascii_only: bool, escape: np.ndarray, want_day: bool = False
) -> _Checked:
    """Vectorized parse_value over one column: which values the reference certainly accepts,
    and their JSON text. Conservative: whatever it does not accept, the reference decides."""
    n = len(raw)
    text = (
        pc.ascii_trim(raw, characters=ASCII_WHITESPACE)
        if ascii_only
        else pc.utf8_trim(raw, characters=PY_WHITESPACE)
    )
    length = _ints(pc.binary_length(text) if ascii_only else pc.utf8_length(text))
    empty = length == 0
    ok = ~empty
    if column.max_length is not None:
        ok &= length <= column.max_length
    day = None
    kind = column.type
    quoted = kind in ("STRING", "NUMERIC", "DATE", "TIMESTAMP")
    if not ok.any():
        rendered = pa.nulls(n, pa.string())
    elif kind == "STRING":
        rendered = _json_escaped(text, escape)
        if column.check == "email":
            ok &= _bools(pc.string_is_ascii(text)) & _matches(text, _EMAIL)
        if column.pattern is not None:
            pattern = re.compile(column.pattern)
            passing = [v for v in pc.unique(text).to_pylist() if pattern.fullmatch(v)]
            ok &= _bools(pc.is_in(text, value_set=pa.array(passing, pa.string())))
        if column.allowed_values is not None:
            ok &= _bools(pc.is_in(text, value_set=pa.array(list(column.allowed_values), pa.string())))
    elif kind == "NUMERIC":
        ok &= _matches(text, _NUMERIC)
        value = text
        if pc.any(pc.starts_with(text, "+")).as_py():
            value = pc.replace_substring_regex(text, r"^\+", "")
        rendered = value
    elif kind == "DATE":
        where = np.flatnonzero(ok & _matches(text, _DATE))
        digits = _fixed_digits(text.take(where), [0, 1, 2, 3, 5, 6, 8, 9])
        year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
        exists = _date_exists(year, digits[:, 4] * 10 + digits[:, 5], digits[:, 6] * 10 + digits[:, 7])
        ok &= _scatter(n, where, exists)
        rendered = day = text
    elif kind == "TIMESTAMP":
        good, day = _check_timestamps(text, ok)
        ok &= good
        rendered = day
    elif kind == "INT64":
        where = np.flatnonzero(ok & _matches(text, _INT64_18))
        ok &= _scatter(n, where, np.ones(len(where), dtype=bool))
        ints = pc.cast(pc.replace_substring_regex(text.take(where), r"^\+", ""), pa.int64())
        rendered = _scatter_strings(n, where, pc.cast(ints, pa.string()))
    elif kind == "FLOAT64":
        where = np.flatnonzero(ok & _matches(text, _FLOAT64))
        floats = np.array([float(v) for v in text.take(where).to_pylist()], dtype=np.float64)
        ok &= _scatter(n, where, np.isfinite(floats))
        rendered = _scatter_strings(n, where, pa.array([repr(v) for v in floats.tolist()], pa.string()))
    elif kind == "BOOL":
        lower = pc.ascii_lower(text)
        ok &= _bools(pc.string_is_ascii(text)) & _bools(pc.is_in(lower, value_set=pa.array(["true", "false", "1", "0"])))
        rendered = pc.if_else(pc.is_in(lower, value_set=pa.array(["true", "1"])), _text("true"), _text("false"))
    else:  # pragma: no cover - contracts.TYPES is closed
        raise ValueError(f"unknown column type {kind}")
    if not column.required and empty.any():
        ok |= empty
        null = pa.array(empty)
        rendered = pc.if_else(null, _text(None), rendered)
        if day is not None:
            day = pc.if_else(null, _text(None), day)
    if want_day and day is not None:
        day = pc.utf8_slice_codeunits(day, 0, 10)
    return _Checked(ok, rendered, quoted, day if want_day else None)


# --------------------------------------------------------------------------------------------
# Validating: a block of records, a whole file
# --------------------------------------------------------------------------------------------


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
    last = ends - 1
    ends_lf = a[last] == LF
    crlf = ends_lf & (last - 1 >= starts)
    crlf[crlf] = a[last[crlf] - 1] == CR
    terminator = np.where(ends_lf, 1 + crlf, a[last] == CR)
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
    """Validates whole files of one feed (see the module docstring)."""

    def __init__(self, contract: Contract, block_size: int = BLOCK_SIZE):
        self.contract = contract
        self.block_size = block_size
        self.day_column = partition_column(contract)
        self.keys = sorted([*contract.column_names, *STAMP_FIELDS])

    def validate(
        self, stream: BinaryIO, stamp: Stamp, file_range: FileRange = WHOLE_FILE
    ) -> Iterator[Chunk | FileSummary]:
        """Chunks of valid and deadletter JSON lines, then the FileSummary of what was read
        (the whole file, or one range of it: ``stream`` is then the range's bytes)."""
        summary = FileSummary(self.contract.feed, reasons={})
        positions: list[int] | None = None
        width = 0
        if file_range.header is not None:
            positions = check_header(self.contract, list(file_range.header))
            width = len(file_range.header)
        try:
            blocks = iter_blocks(stream, self.block_size, file_range.first_line, at_file_start=file_range.index == 0)
            for block in blocks:
                if positions is None:
                    header = block.record(0)
                    positions = check_header(self.contract, header.fields)
                    width = len(header.fields)
                    block = block.without_first()
                    if not len(block):
                        continue
                yield from self.validate_block(block, positions, width, stamp, summary)
            if positions is None:
                raise FileRejected("empty file: no header")
        except FileRejected as exc:
            summary.file_error = exc.reason
        yield summary

    def validate_block(
        self, block: RecordBlock, positions: list[int], width: int, stamp: Stamp, summary: FileSummary
    ) -> Iterator[Chunk]:
        """Chunks for the block's records; adds them to ``summary``."""
        facts = _block_facts(block, width)
        index = np.flatnonzero(facts.clean)
        table = _arrow_rows(block, index, width, facts.quoted_newlines) if len(index) else None
        fast = np.zeros(len(block), dtype=bool)
        if table is not None:
            ok = np.ones(len(index), dtype=bool)
            rendered: dict[str, _Checked] = {}
            days = None
            for column, position in zip(self.contract.columns, positions):
                checked = check_column(
                    column,
                    _array(table.column(position)),
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
                rendered["_line_number"] = _Checked(ok, pc.cast(pa.array(lines), pa.string()), quoted=False)
                yield Chunk(VALID, self._json_lines(rendered, stamp, keep), accepted)
                summary.rows_read += accepted
                summary.rows_valid += accepted
                if days is not None:
                    extremes = pc.min_max(days if keep is None else pc.filter(days, keep)).as_py()
                    if extremes["min"] is not None:
                        summary.partition_min = min(summary.partition_min or extremes["min"], extremes["min"])
                        summary.partition_max = max(summary.partition_max or extremes["max"], extremes["max"])
        # What the fast path did not accept, the reference decides (and gives the reason). For
        # clean records Arrow's fields are csv's: only the others are read by csv again.
        valid, dead = [], []
        dead_line = DeadletterLines(stamp)
        rejected = index[~ok] if table is not None else np.empty(0, np.int64)
        fields = dict(zip(rejected.tolist(), _rows_of(table, rejected_positions(index, rejected)))) if len(rejected) else {}
        for i in np.flatnonzero(~fast).tolist():
            record = block.record(i, fields.get(i))
            outcome = validate_record(self.contract, positions, width, record)
            summary.add(outcome, self.day_column)
            if isinstance(outcome, RowError):
                dead.append(dead_line(record, outcome))
            else:
                valid.append(valid_line(outcome, stamp, record.line_number))
        if valid:
            yield Chunk(VALID, "\n".join(valid).encode("utf-8"), len(valid))
        if dead:
            yield Chunk(DEADLETTER, "\n".join(dead).encode("utf-8"), len(dead))

    def _json_lines(self, rendered: dict[str, _Checked], stamp: Stamp, keep: pa.Array | None) -> pa.Buffer:
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
        for i, key in enumerate(self.keys):
            text += ("{" if i == 0 else ",") + json.dumps(key) + ":"
            if key in constants:
                text += json.dumps(constants[key], ensure_ascii=False)
                continue
            checked = rendered[key]
            values = checked.json if keep is None or key == "_line_number" else pc.filter(checked.json, keep)
            if checked.quoted and values.null_count == 0:
                pieces += [_text(text + '"'), values]
                text = '"'
            else:
                pieces += [_text(text), pc.fill_null(_quoted(values) if checked.quoted else values, _text("null"))]
                text = ""
        pieces.append(_text(text + "}\n"))
        lines = pc.binary_join_element_wise(*pieces, _text(""))
        offsets = _offsets(lines)
        # The text of all lines, no copy (a copy of ~70 MB per block costs a fresh mmap).
        return lines.buffers()[2][int(offsets[0]) : int(offsets[-1]) - 1]
