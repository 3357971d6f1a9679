"""Ranges of one large plain file: record-aligned, covering every record once."""

from __future__ import annotations

import csv
import gzip
import io
from datetime import date

import pytest

from feedline.contract.model import load_contracts
from feedline.local.sample_data import generate
from feedline.validate.columnar import WHOLE_FILE, ColumnarValidator, FileRange, open_range, plan_ranges
from feedline.validate.outputs import merge_summaries

from engines import STAMP, collect, row_path, _by_line

CONTRACTS = load_contracts()


@pytest.mark.parametrize("feed", ["customers", "transactions"])
@pytest.mark.parametrize("range_bytes", [4000, 25_000, 1 << 30])
def test_ranges_cover_every_record_once_and_merge_to_the_whole_file(feed, range_bytes):
    data = generate(feed, 3000, 0.05, 4, date(2026, 11, 25))
    contract = CONTRACTS[feed]
    ranges = plan_ranges(io.BytesIO(data), len(data), contract, range_bytes, block_size=7000)
    assert len(ranges) == (1 if range_bytes > len(data) else max(2, len(data) // range_bytes) - 0) or len(ranges) > 1
    assert ranges[0].start == 0 and ranges[-1].end is None
    assert all(a.end == b.start for a, b in zip(ranges, ranges[1:]))
    validator = ColumnarValidator(contract, block_size=5000)
    parts, lines = [], {"valid": [], "deadletter": []}
    for file_range in ranges:
        stream = io.BytesIO(data)
        out = collect(validator.validate(open_range(stream, file_range), STAMP, file_range))
        parts.append((file_range.index, out.summary))
        lines["valid"] += out.valid
        lines["deadletter"] += out.deadletter
    reference = row_path(contract, data)
    assert merge_summaries(contract.feed, parts) == reference.summary
    assert _by_line(lines["valid"]) == reference.valid and _by_line(lines["deadletter"]) == reference.deadletter


class _CountingStream(io.BytesIO):
    def __init__(self, data: bytes):
        super().__init__(data)
        self.furthest = 0

    def read(self, size=-1):
        out = super().read(size)
        self.furthest = max(self.furthest, self.tell())
        return out

    def read1(self, size=-1):
        out = super().read1(size)
        self.furthest = max(self.furthest, self.tell())
        return out


def test_planning_reads_no_further_than_the_block_of_the_last_cut():
    data = generate("transactions", 20_000, 0.05, 4, date(2026, 11, 25))
    stream = _CountingStream(data)
    ranges = plan_ranges(stream, len(data), CONTRACTS["transactions"], len(data) // 4, block_size=16_000)
    assert len(ranges) == 4
    assert stream.furthest <= ranges[-1].start + 2 * 16_000 < len(data) - 16_000


def test_a_file_rejected_after_the_last_cut_merges_to_the_whole_files_outcome(monkeypatch, request):
    # The last range is read only by its worker: a runaway quoted field there must end the
    # file exactly where reading it in one go ends it (same rows, same error and line).
    monkeypatch.setattr("feedline.validate.csvio.FIELD_SIZE_LIMIT", 5000)
    monkeypatch.setattr("feedline.validate.columnar.blocks.FIELD_SIZE_LIMIT", 5000)
    limit = csv.field_size_limit(5000)
    request.addfinalizer(lambda: csv.field_size_limit(limit))
    data = generate("transactions", 3000, 0.05, 4, date(2026, 11, 25))
    data += b'T9,C1,"1' + b"9" * 6000 + b"\n"
    contract = CONTRACTS["transactions"]
    ranges = plan_ranges(io.BytesIO(data), len(data), contract, len(data) // 3, block_size=7000)
    assert len(ranges) == 3
    validator = ColumnarValidator(contract, block_size=5000)
    parts, lines = [], {"valid": [], "deadletter": []}
    for file_range in ranges:
        out = collect(validator.validate(open_range(io.BytesIO(data), file_range), STAMP, file_range))
        parts.append((file_range.index, out.summary))
        lines["valid"] += out.valid
        lines["deadletter"] += out.deadletter
    reference = row_path(contract, data)
    assert reference.summary.file_error and "line" in reference.summary.file_error
    assert parts[-1][1].file_error == reference.summary.file_error
    assert merge_summaries(contract.feed, parts) == reference.summary
    assert _by_line(lines["valid"]) == reference.valid and _by_line(lines["deadletter"]) == reference.deadletter


def test_ranges_never_start_inside_a_quoted_newline():
    rows = ["id,name,email,country,signup_date,updated_at"]
    for i in range(400):
        rows.append(f'C{i},n{i}@x.io,"line one\nline two\r\nline, three",GB,2026-01-01,2026-01-01T00:00:00Z')
    data = "\n".join(rows).replace("id,name", "customer_id,email", 1).replace(",email,country", ",full_name,country", 1)
    data = data.encode()
    contract = CONTRACTS["customers"]
    ranges = plan_ranges(io.BytesIO(data), len(data), contract, 1000, block_size=777)
    assert len(ranges) > 10
    for file_range in ranges[1:]:
        assert data[file_range.start : file_range.start + 1] == b"C"
        assert data[file_range.start - 1 : file_range.start] == b"\n"
        assert data[: file_range.start].count(b'"') % 2 == 0


@pytest.mark.parametrize(
    "data",
    [b"", b"x" * 100, gzip.compress(b"a,b\n1,2\n" * 1000)],
    ids=["empty", "no-header-line-end", "gzip"],
)
def test_files_that_are_small_gzipped_or_odd_are_one_range(data):
    assert plan_ranges(io.BytesIO(data), len(data), CONTRACTS["transactions"], 10) == [WHOLE_FILE]


def test_a_bad_header_is_not_split():
    data = b"wrong,header\n" + b"1,2\n" * 5000
    assert plan_ranges(io.BytesIO(data), len(data), CONTRACTS["transactions"], 1000) == [WHOLE_FILE]


def test_open_range_reads_exactly_its_bytes():
    data = bytes(range(256)) * 10
    part = open_range(io.BytesIO(data), FileRange(1, 3, start=300, end=1000, first_line=5))
    assert part.read() == data[300:1000]
    tail = open_range(io.BytesIO(data), FileRange(2, 3, start=1000, end=None, first_line=9))
    assert tail.read() == data[1000:]


def test_the_whole_file_is_the_stream_itself():
    stream = io.BytesIO(b"a,b\n1,2\n")
    assert open_range(stream, WHOLE_FILE) is stream
