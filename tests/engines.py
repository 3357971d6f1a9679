"""Run both validation paths on the same bytes and compare what they produce."""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow as pa

from feedline.validate.columnar import ColumnarValidator
from feedline.contract.model import Contract, parse_contract
from feedline.validate.outputs import Chunk, Stamp
from feedline.validate.reference import row_outputs
from feedline.validate.rules import FileSummary

STAMP = Stamp("b_1", "2026-11-27T08:15:00.000000Z", "feed_20261127.csv")

# A contract with every type and check, for quirks the two real feeds do not reach.
EVERYTHING = parse_contract(
    {
        "feed": "everything",
        "file_pattern": r"^everything_(?P<date>\d{8})\.csv$",
        "columns": [
            {"name": "id", "type": "STRING", "required": True, "max_length": 10},
            {"name": "name", "type": "STRING", "max_length": 20},
            {"name": "email", "type": "STRING", "check": "email"},
            {"name": "country", "type": "STRING", "allowed_values": "iso3166_alpha2"},
            {"name": "code", "type": "STRING", "pattern": "[A-Z]{3}"},
            {"name": "amount", "type": "NUMERIC"},
            {"name": "qty", "type": "INT64"},
            {"name": "ratio", "type": "FLOAT64"},
            {"name": "active", "type": "BOOL"},
            {"name": "day", "type": "DATE"},
            {"name": "ts", "type": "TIMESTAMP", "required": True},
        ],
        "key": ["id"],
        "partition_by": {"column": "ts"},
        "deadletter": {"threshold": 0.5},
    }
)
EVERYTHING_HEADER = ",".join(EVERYTHING.column_names)


def _by_line(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["_source_file"], r["_line_number"]))


@dataclass
class Outcome:
    valid: list[dict]  # decoded rows (Arrow -> Python values), by line
    deadletter: list[dict]
    summary: FileSummary

    @property
    def valid_rows(self) -> list[dict]:
        return self.valid

    @property
    def deadletter_rows(self) -> list[dict]:
        return self.deadletter

    @property
    def reasons(self) -> dict[int, str]:
        return {r["_line_number"]: r["reason"] for r in self.deadletter_rows}


def decoded(schema: pa.Schema) -> pa.Schema:
    """``schema`` with dictionary columns as their values' type: a chunk's strings may come
    dictionary-encoded or not (outputs.stored_schema), and the writer conforms them."""
    return pa.schema([f.with_type(f.type.value_type) if pa.types.is_dictionary(f.type) else f for f in schema])


def collect(items) -> Outcome:
    rows: dict[str, list[dict]] = {"valid": [], "deadletter": []}
    schemas: dict[str, set] = {"valid": set(), "deadletter": set()}
    summary = None
    for item in items:
        if isinstance(item, FileSummary):
            summary = item
        else:
            assert isinstance(item, Chunk) and item.count == item.table.num_rows > 0
            schemas[item.output].add(decoded(item.table.schema))
            rows[item.output] += item.rows()
    assert summary is not None
    assert all(len(s) <= 1 for s in schemas.values()), schemas  # one schema per output and file, up to encoding
    return Outcome(_by_line(rows["valid"]), _by_line(rows["deadletter"]), summary)


def row_path(contract: Contract, data: bytes, stamp: Stamp = STAMP) -> Outcome:
    return collect(row_outputs(contract, io.BytesIO(data), stamp))


def columnar_path(contract: Contract, data: bytes, block_size: int = 1 << 20, stamp: Stamp = STAMP) -> Outcome:
    return collect(ColumnarValidator(contract, block_size).validate(io.BytesIO(data), stamp))


def both_paths(contract: Contract, data: bytes, block_sizes=(1 << 20, 97, 7)) -> Outcome:
    """The reference's outcome, after checking the columnar path matches it value for value at
    several block sizes (small ones put block boundaries everywhere)."""
    reference = row_path(contract, data)
    for size in block_sizes:
        fast = columnar_path(contract, data, size)
        assert fast.summary == reference.summary, f"block size {size}"
        assert fast.valid == reference.valid, f"block size {size}"
        assert fast.deadletter == reference.deadletter, f"block size {size}"
    return reference
