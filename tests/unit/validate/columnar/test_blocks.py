"""Record blocks: the records csv reads, with their line numbers, cut anywhere."""

from __future__ import annotations

import io
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedline.validate.columnar import iter_blocks
from feedline.validate.columnar.blocks import _count_lines, _line_ends, _scan, _skim, terminator_lengths

from support import SPECTRUM, SPECTRUM_CASES as CASES, spectrum_expected as expected_records


def data(name: str) -> bytes:
    return (SPECTRUM / "csvs" / f"{name}.csv").read_bytes()


def test_the_suite_is_there():
    assert len(CASES) == 12, CASES


@pytest.mark.parametrize("block_size", [1, 5, 1 << 20])
@pytest.mark.parametrize("name", CASES)
def test_record_blocks_read_the_expected_records(name, block_size):
    records = [block.record(i) for block in iter_blocks(io.BytesIO(data(name)), block_size) for i in range(len(block))]
    header, *rows = records
    assert [dict(zip(header.fields, r.fields, strict=True)) for r in rows] == expected_records(name)


def test_terminator_lengths():
    buf = b"a\nb\r\nc\rd"
    a = np.frombuffer(buf, dtype=np.uint8)
    starts, ends = np.array([0, 2, 5, 7]), np.array([2, 5, 7, 8])
    assert terminator_lengths(a, starts, ends).tolist() == [1, 2, 1, 0]


@pytest.mark.parametrize("block_size", [1, 4, 1 << 20])
def test_line_numbers_count_blank_lines_and_quoted_newlines(block_size):
    text = b'\xef\xbb\xbfh1,h2\r\n\r\n"a\nb",1\rx,2\n\n\ny,3'
    records = [block.record(i) for block in iter_blocks(io.BytesIO(text), block_size) for i in range(len(block))]
    assert [(r.line_number, r.fields) for r in records] == [
        (1, ["h1", "h2"]), (3, ["a\nb", "1"]), (5, ["x", "2"]), (8, ["y", "3"])
    ]


# Bytes that matter to record boundaries and line numbers, well-formed or not.
CSV_PIECES = st.sampled_from([b"a", b"bc", b",", b'"', b'""', b"\n", b"\r", b"\r\n", b"\n\n", b'"x\ny"', b"\xc3\xa9"])
CSV_BYTES = st.lists(CSV_PIECES, max_size=60).map(b"".join)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(CSV_BYTES)
def test_a_skimmed_buffer_ends_where_the_exact_scan_ends_it(buf):
    a = np.frombuffer(buf, dtype=np.uint8)
    line_ends = _line_ends(a, eof=False)
    skimmed = _skim(buf, eof=False)
    if skimmed is not None:
        consumed, lines = skimmed
        assert consumed == _scan(buf, False, 1, line_ends).consumed
        assert lines == int(np.searchsorted(line_ends, consumed))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=40).map(lambda b: bytes(b"\r\na"[x % 3] for x in b)), st.integers(0, 40))
def test_lines_are_counted_as_python_counts_line_ends(buf, size):
    """CRLF is one line end and a lone CR or LF one each, wherever the pairs fall (odd or even
    offsets) and wherever the count stops (a CR last: its LF is not counted with it)."""
    size = min(size, len(buf))
    assert _count_lines(buf, np.frombuffer(buf, dtype=np.uint8), size) == len(re.findall(rb"\r\n|\r|\n", buf[:size]))


def _records_from(blocks, at: int) -> list[tuple[int, int, list[str]]]:
    return [
        (int(block.offset + block.starts[i]), int(block.lines[i]), block.record(i).fields)
        for block in blocks for i in range(len(block)) if block.offset + block.starts[i] >= at
    ]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(CSV_BYTES, min_size=1, max_size=8).map(lambda rows: b"h1,h2\r\n" + b"\r\n".join(rows)),
       st.integers(1, 40), st.integers(0, 400))
def test_skimming_to_an_offset_reads_the_records_from_there_as_a_full_read_does(text, block_size, at):
    skimmed = iter_blocks(io.BytesIO(text), block_size, skim_before=lambda: at)
    assert _records_from(skimmed, at) == _records_from(iter_blocks(io.BytesIO(text), block_size), at)


def test_skimming_skips_the_well_formed_blocks_before_the_offset():
    rows = b"".join(b'%d,"x, %d"\r\n' % (i, i) for i in range(2000))
    text = b"h1,h2\r\n" + rows
    blocks = list(iter_blocks(io.BytesIO(text), 1000, skim_before=lambda: len(text) - 500))
    assert len(list(iter_blocks(io.BytesIO(text), 1000))) == 30
    assert len(blocks) == 2  # the header's block, then the one with the offset (the last)
    assert _records_from(blocks, len(text) - 500) == _records_from(iter_blocks(io.BytesIO(text), 1000), len(text) - 500)
