"""Every file of the public csv-spectrum suite parses to exactly its expected records."""

from __future__ import annotations

import pytest

from feedline.validate.csvio import iter_records
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
