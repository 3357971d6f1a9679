"""Every file of the public csv-spectrum suite parses to exactly its expected records."""

from __future__ import annotations

import json

import pytest

from conftest import CONFORMANCE
from feedline.csvio import iter_records

SPECTRUM = CONFORMANCE / "csv-spectrum"
CASES = sorted(p.stem for p in (SPECTRUM / "csvs").glob("*.csv"))

# Upstream's expected JSON for location_coordinates carries a different phone number than its
# CSV (and is an object, not a list); the CSV is the data, so the expectation is corrected here.
ERRATA = {"location_coordinates": {"Contact Phone Number": "2095257564"}}


def expected_records(name: str) -> list[dict[str, str]]:
    expected = json.loads((SPECTRUM / "json" / f"{name}.json").read_text(encoding="utf-8"))
    expected = expected if isinstance(expected, list) else [expected]
    return [{**record, **ERRATA.get(name, {})} for record in expected]


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
