"""csvio: every file of the public csv-spectrum suite parses to exactly its expected records;
the line tap and gzip detection."""

from __future__ import annotations

import csv
import gzip
import io

import pytest

from feedline.validate.csvio import FileRejected, LineTap, iter_records, open_decoded, peek_gzip
from support import SPECTRUM, SPECTRUM_CASES as CASES, spectrum_expected as expected_records


def parsed_records(name: str) -> list[dict[str, str]]:
    with open(SPECTRUM / "csvs" / f"{name}.csv", "rb") as stream:
        header, *records = list(iter_records(stream))
    return [dict(zip(header.fields, r.fields, strict=True)) for r in records]


def test_the_suite_is_there():
    assert len(CASES) == 12, CASES


@pytest.mark.parametrize("name", CASES)
def test_parses_to_expected_records(name):
    assert parsed_records(name) == expected_records(name)


def test_raw_text_and_line_numbers_of_a_quoted_newline():
    with open(SPECTRUM / "csvs" / "newlines_crlf.csv", "rb") as stream:
        records = list(iter_records(stream))
    assert [r.line_number for r in records] == [1, 2, 3, 5]
    assert records[2].raw == '"Once upon \r\na time",5,6\r\n'


def test_line_tap_hands_out_each_records_own_lines():
    tap = LineTap(io.StringIO('a,"b\r\nc"\nd,e\r', newline=""))
    reader = csv.reader(tap, strict=False)
    assert next(reader) == ["a", "b\r\nc"] and tap.take() == 'a,"b\r\nc"\n' and tap.lines_read == 2
    assert next(reader) == ["d", "e"] and tap.take() == "d,e\r" and tap.lines_read == 3
    assert next(reader, None) is None and tap.take() == ""


def test_gzip_is_recognised_by_its_magic_bytes_without_consuming_them():
    packed = gzip.compress(b"\xef\xbb\xbfa,b\r\n")
    buffered, gzipped = peek_gzip(io.BytesIO(packed))
    assert gzipped and buffered.read() == packed
    assert peek_gzip(io.BytesIO(b"a,b"))[1] is False
    assert open_decoded(io.BytesIO(packed)).read() == "a,b\r\n"  # BOM dropped, CRLF kept


def test_a_truncated_gzip_rejects_the_file_after_the_rows_before_it():
    packed = gzip.compress(b"h\n" + b"x\n" * 50_000)
    records = iter_records(io.BytesIO(packed[: len(packed) // 2]))
    assert next(records).fields == ["h"]
    with pytest.raises(FileRejected, match="unreadable compressed file at line"):
        list(records)
