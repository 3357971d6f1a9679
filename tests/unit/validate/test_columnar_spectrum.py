"""The columnar path reads the public csv-spectrum suite exactly as the reference does, and to
the suite's expected records (with the same erratum as tests/test_csv_spectrum.py)."""

from __future__ import annotations

import io

import pytest

from feedline.validate.columnar import iter_blocks
from feedline.contract.model import parse_contract

from engines import both_paths

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


@pytest.mark.parametrize("name", CASES)
def test_validation_outputs_match_the_reference(name):
    """Each file validated against a contract of its own header (all STRING columns): the
    columnar path's rows equal the reference's, and hold the expected values."""
    header = expected_records(name)[0].keys()
    columns = {h: f"c{i}" for i, h in enumerate(header)}
    renamed = data(name).replace(next(iter(data(name).splitlines())), ",".join(columns.values()).encode(), 1)
    contract = parse_contract(
        {
            "feed": "spectrum",
            "file_pattern": r"^spectrum_(?P<date>\d{8})\.csv$",
            "columns": [{"name": c, "type": "STRING", "required": i == 0} for i, c in enumerate(columns.values())],
            "key": ["c0"],
            "deadletter": {"threshold": 1},
        }
    )
    out = both_paths(contract, renamed, block_sizes=(1 << 20, 3, 1))
    assert out.deadletter == []
    values = [{h: row[c] for h, c in columns.items()} for row in out.valid_rows]
    # Validation trims values and reads empty ones as NULL (feedline.validate.rules).
    assert values == [{h: (v.strip() or None) for h, v in r.items()} for r in expected_records(name)]
