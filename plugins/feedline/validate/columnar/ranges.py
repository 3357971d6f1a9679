"""Ranges: one large plain file read by several workers, each range starting exactly at a record."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from feedline.contract.model import Contract
from feedline.validate.columnar.blocks import BLOCK_SIZE, iter_blocks
from feedline.validate.csvio import FileRejected, peek_gzip
from feedline.validate.header import plan_header


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
# Planning reads blocks of at most this size: only a block under csvio.FIELD_SIZE_LIMIT can be
# skimmed (blocks._skim), and the cuts do not depend on the block size.
PLAN_BLOCK = 4 * 1024 * 1024


def plan_ranges(stream: BinaryIO, size: int, contract: Contract, range_bytes: int, block_size: int = BLOCK_SIZE) -> list[FileRange]:
    """Ranges of about ``range_bytes`` that start exactly at records (found by the same scan
    that validation runs, so quoted newlines and odd quoting are respected; the well-formed
    blocks between cuts only skimmed for their quotes and lines), or the whole
    file as one range when it is small, gzipped, or anything before the last cut is not plain
    sailing (a bad header, a runaway field): then one worker reproduces the reference's outcome
    in order. The scan stops at the last cut: what follows is the last range's, and its worker
    finds any failure there at the line a whole-file read finds it (merge_summaries)."""
    count = size // range_bytes if range_bytes > 0 else 0
    if count < 2:
        return [WHOLE_FILE]
    buffered, gzipped = peek_gzip(stream)
    if gzipped:
        return [WHOLE_FILE]
    targets = [size * k // count for k in range(1, count)]
    cuts: list[tuple[int, int]] = []
    header: list[str] | None = None
    try:
        for block in iter_blocks(buffered, min(block_size, PLAN_BLOCK), skim_before=lambda: targets[0]):
            if header is None:
                header = block.record(0).fields
                plan_header(contract, header)
            absolute = block.starts + block.offset
            while targets and absolute[-1] >= targets[0]:
                i = int(np.searchsorted(absolute, targets.pop(0)))
                if i > 0 or cuts or block.offset > 0:  # never cut before the header
                    if not cuts or cuts[-1][0] < absolute[i]:
                        cuts.append((int(absolute[i]), int(block.lines[i])))
            if not targets:  # the rest of the file is the last range's: its worker reads it
                break
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


