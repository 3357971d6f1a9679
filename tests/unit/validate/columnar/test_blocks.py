"""Record blocks: the records csv reads, with their line numbers, cut anywhere."""

from __future__ import annotations

import io

import numpy as np
import pytest

from feedline.validate.columnar import iter_blocks
from feedline.validate.columnar.blocks import terminator_lengths

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
