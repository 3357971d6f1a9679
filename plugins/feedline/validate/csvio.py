"""Reading feed files as CSV records, keeping each record's raw text and first line number.

Shared by the Beam job and ``feedline validate``; imports neither Airflow nor Beam.

Decisions (each has a test):
- UTF-8, with or without BOM. Bytes that are not UTF-8 are kept (surrogate-escaped) so the row
  can be deadlettered with a reason instead of failing the whole file; ``Record.raw`` encoded
  back (``utf-8``, ``surrogateescape``) is the record's exact bytes.
- CRLF, LF and CR line ends, mixed, and newlines inside quoted fields are records as RFC 4180
  reads them.
- Blank lines (including trailing ones) are not records; they are skipped, not counted.
- gzip is recognised by its magic bytes, whatever the name; a truncated gzip rejects the file.
"""

from __future__ import annotations

import csv
import gzip
import io
import zlib
from dataclasses import dataclass
from typing import BinaryIO, Iterator

GZIP_MAGIC = b"\x1f\x8b"
# A field longer than this is a broken quote swallowing the file, not data: reject the file
# rather than hold gigabytes in one string. Column max_length checks are far below it.
FIELD_SIZE_LIMIT = 8 * 1024 * 1024
csv.field_size_limit(FIELD_SIZE_LIMIT)


class FileRejected(Exception):
    """The whole file cannot be ingested; ``reason`` says why (goes to quarantine + alert)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Record:
    line_number: int  # physical line where the record starts; the header is line 1
    raw: str  # the record's text as in the file, line end(s) included
    fields: list[str]


class LineTap:
    """Feeds csv.reader line by line and remembers the lines handed out since the last
    :meth:`take`: the raw text of the record csv just read. The columnar path uses it too, to
    learn where csv stopped reading a record it could not scan itself."""

    def __init__(self, text: io.TextIOBase):
        self._text = text
        self._pending: list[str] = []
        self.lines_read = 0

    def __iter__(self) -> "LineTap":
        return self

    def __next__(self) -> str:
        line = self._text.readline()
        if not line:
            raise StopIteration
        self._pending.append(line)
        self.lines_read += 1
        return line

    def take(self) -> str:
        raw, self._pending = "".join(self._pending), []
        return raw


def peek_gzip(stream: BinaryIO) -> tuple[io.BufferedReader, bool]:
    """The stream as a BufferedReader, and whether it starts with gzip's magic bytes (peeked,
    not consumed: the name of a file says nothing)."""
    buffered = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)
    return buffered, buffered.peek(2)[:2] == GZIP_MAGIC


def ungzipped(buffered: io.BufferedReader) -> io.BufferedReader:
    """The decompressed bytes of a gzip stream, buffered (both paths read it this way, so a
    truncated stream fails at the same byte in each)."""
    return io.BufferedReader(gzip.GzipFile(fileobj=buffered, mode="rb"))


def open_decoded(stream: BinaryIO) -> io.TextIOWrapper:
    """Text view of a (possibly gzipped) byte stream: BOM dropped, line ends kept as they are."""
    buffered, gzipped = peek_gzip(stream)
    if gzipped:
        buffered = ungzipped(buffered)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="surrogateescape", newline="")


def iter_records(stream: BinaryIO) -> Iterator[Record]:
    """Every non-blank CSV record of the stream, header first.

    Raises FileRejected for what makes the whole file unreadable (truncated gzip, a quote that
    never closes within FIELD_SIZE_LIMIT, ...).
    """
    tap = LineTap(open_decoded(stream))
    reader = csv.reader(tap, strict=False)
    next_line = 1
    try:
        for fields in reader:
            start, raw = next_line, tap.take()
            next_line = tap.lines_read + 1
            if not fields or fields == [""] and raw.strip("\r\n") == "":
                continue
            yield Record(start, raw, fields)
    except (EOFError, OSError, zlib.error) as exc:
        raise FileRejected(f"unreadable compressed file at line {next_line}: {exc}") from exc
    except csv.Error as exc:
        raise FileRejected(f"unparseable CSV at line {next_line}: {exc}") from exc
