"""Property: a typed value written in a CSV leaves both engines as the same Arrow value, equal to
the value itself, and Parquet (what the job writes) gives it back unchanged.

NUMERIC up to 29 integer and 9 fractional digits (decimal128(38, 9)), INT64 over its range,
FLOAT64 any finite double, TIMESTAMP with microseconds and offsets over 0001..9999 (UTC),
DATE over 0001-01-01..9999-12-31, Unicode STRING, NULLs. tests/engines.py compares the decoded
rows of the columnar path and the row reference at several block sizes.
"""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from feedline.validate.columnar import ColumnarValidator
from feedline.validate.outputs import Chunk, conform, stored_schema, valid_schema
from feedline.validate.reference import row_outputs

from engines import EVERYTHING, STAMP, both_paths, decoded

UTC = timezone.utc



def _numeric(units: int) -> Decimal:
    """``units`` billionths, exactly (Decimal arithmetic would round at 28 digits)."""
    digits = str(abs(units)).rjust(10, "0")
    return Decimal(("-" if units < 0 else "") + digits[:-9] + "." + digits[-9:])


numerics = st.one_of(
    st.integers(-(10**38) + 1, 10**38 - 1),
    st.sampled_from([10**38 - 1, -(10**38) + 1, 1, -1, 0]),  # the ends and the smallest steps
).map(_numeric)
offsets = st.integers(-(23 * 60 + 59), 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
timestamps = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=offsets)
texts = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20)


def numeric_text(value: Decimal, plus: bool) -> str:
    text = format(value, "f")
    return ("+" + text) if plus and not text.startswith("-") else text


def timestamp_text(value: datetime, style: int) -> str:
    if style == 0:  # in UTC, "Z", fraction only when there is one
        return value.astimezone(UTC).replace(tzinfo=None).isoformat() + "Z"
    text = value.isoformat(sep=" ", timespec="microseconds")  # ...+HH:MM
    return text if style == 1 else text[:-3] + text[-2:]  # ...+HHMM


@st.composite
def typed_rows(draw):
    rows = []
    for i in range(draw(st.integers(1, 15))):
        nullable = lambda strategy: draw(st.one_of(st.none(), strategy))  # noqa: E731
        rows.append({
            "id": f"A{i}",
            "name": nullable(texts.filter(lambda t: t.strip() != "")),
            "amount": nullable(numerics),
            "qty": nullable(st.integers(-(2**63), 2**63 - 1)),
            "ratio": nullable(st.floats(allow_nan=False, allow_infinity=False)),
            "active": nullable(st.booleans()),
            "day": nullable(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31))),
            "ts": draw(timestamps),
            "_style": (draw(st.booleans()), draw(st.integers(0, 2)), draw(st.sampled_from(["true", "TRUE", "1"]))),
        })
    return rows


def csv_bytes(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")  # quotes values holding CR or LF
    writer.writerow(EVERYTHING.column_names)
    for row in rows:
        plus, ts_style, true = row["_style"]
        cells = {
            "id": row["id"], "name": row["name"] or "", "email": "", "country": "", "code": "",
            "amount": "" if row["amount"] is None else numeric_text(row["amount"], plus),
            "qty": "" if row["qty"] is None else str(row["qty"]),
            "ratio": "" if row["ratio"] is None else repr(row["ratio"]),
            "active": "" if row["active"] is None else (true if row["active"] else "false"),
            "day": "" if row["day"] is None else row["day"].isoformat(),
            "ts": timestamp_text(row["ts"], ts_style),
        }
        writer.writerow([cells[name] for name in EVERYTHING.column_names])
    return out.getvalue().encode("utf-8")


def tables(items) -> list[pa.Table]:
    return [item.table for item in items if isinstance(item, Chunk) and item.output == "valid"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(typed_rows())
def test_typed_values_decode_identically_from_both_engines_and_survive_parquet(rows):
    data = csv_bytes(rows)
    out = both_paths(EVERYTHING, data, block_sizes=(1 << 20, 97))  # columnar == reference, decoded
    assert out.deadletter_rows == [] and len(out.valid_rows) == len(rows)
    for got, row in zip(out.valid_rows, rows):
        assert got["amount"] == row["amount"]  # exact: Decimal, 38 digits
        assert got["qty"] == row["qty"] and got["ratio"] == row["ratio"] and got["active"] == row["active"]
        assert got["day"] == row["day"]
        assert got["ts"] == row["ts"] and got["ts"].tzinfo is not None  # the instant, to the microsecond
        assert got["name"] == (row["name"].strip() if row["name"] is not None else None)

    # What the job writes: chunks conformed to the stored schema (repeated strings as
    # dictionary arrays), Parquet without the Arrow schema; it reads back as the valid schema
    # and the same values.
    schema = valid_schema(EVERYTHING)
    stored = stored_schema(schema, EVERYTHING.key)
    for produced in (row_outputs(EVERYTHING, io.BytesIO(data), STAMP),
                     ColumnarValidator(EVERYTHING, 97).validate(io.BytesIO(data), STAMP)):
        chunks = tables(produced)
        assert all(decoded(t.schema) == schema for t in chunks)  # the valid schema, up to encoding
        table = pa.concat_tables([conform(t, stored) for t in chunks])
        buffer = io.BytesIO()
        pq.write_table(table, buffer, compression="zstd", store_schema=False,
                       use_dictionary=[f.name for f in stored if pa.types.is_dictionary(f.type)])
        back = pq.read_table(io.BytesIO(buffer.getvalue()))
        assert back.schema == schema
        assert sorted(back.to_pylist(), key=lambda r: r["_line_number"]) == out.valid_rows
