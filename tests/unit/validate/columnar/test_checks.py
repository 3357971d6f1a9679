"""Column checks: exactly what the reference accepts, typed as the reference's values convert."""

from __future__ import annotations

from itertools import product

import numpy as np
import pyarrow as pa
import pytest

from feedline.contract.model import Column
from feedline.validate.columnar import PY_WHITESPACE, check_column
from feedline.validate.outputs import ARROW_TYPES, rows_table
from feedline.validate.rules import ValueInvalid, parse_value


def test_python_whitespace_is_exactly_what_str_strip_removes():
    import sys

    assert PY_WHITESPACE == "".join(c for c in map(chr, range(sys.maxunicode + 1)) if c.isspace())


@pytest.mark.parametrize(
    "kind, values",
    [
        ("INT64", ["3", "+007", "-12", "x", "1.0", ""]),
        ("NUMERIC", ["12.50", "+1", "1e5", "1,234.50", " 7 "]),
        ("BOOL", ["true", "FALSE", "1", "0", "yes"]),
        ("DATE", ["2024-02-29", "2026-02-29", "2026-1-1", "0001-01-01"]),
        ("TIMESTAMP", ["2026-11-25T10:00:00Z", "2026-11-25 10:00:00", "2026-11-25T10:00:00.5+01:00", "2026-02-30T00:00:00Z"]),
    ],
)
def test_accepted_values_are_those_the_reference_accepts(kind, values):
    column = Column(name="c", type=kind, required=False)
    schema = pa.schema([pa.field("c", ARROW_TYPES[kind])])
    checked = check_column(column, pa.array(values, pa.string()), True)
    assert checked.values.type == ARROW_TYPES[kind]
    for value, ok, typed in zip(values, checked.ok.tolist(), checked.values.to_pylist()):
        try:
            expected = parse_value(column, value)
        except ValueInvalid:
            expected = ValueInvalid
        if ok:  # accepted: the reference accepts it too, with the same value
            assert expected is not ValueInvalid, value
            assert typed == rows_table(schema, [{"c": expected}]).column("c")[0].as_py(), value
        else:  # not accepted here: the reference decides; for these values it rejects them
            assert expected is ValueInvalid, value


@pytest.mark.parametrize(
    "column, values",
    [
        (Column(name="c", type="STRING", required=True, max_length=3, allowed_values=("AB", "ÉTÉ")),
         ["", "  ", "AB", "ÉTÉ", "abcd", "XY", "ÉTÉS", "\u00a0AB\u3000"]),
        (Column(name="c", type="STRING", required=True, check="email"),
         ["a@b.co", "a at b.co", "a@b", "é@b.co", "a@@b.co", " a@b.co ", "a\u00a0b@c.de", "a@b\u2028.c", "ü@ö.ß",
          "a\x1cb@c.de"]),
        (Column(name="c", type="NUMERIC", required=True), ["1,234.50", "1e5", "+1", ".5", "5.", "١٢", "12.5"]),
        (Column(name="c", type="DATE", required=False), ["2026-02-30", "0000-01-01", "2026-1-1", "2024-02-29", "2026-13-01"]),
        (Column(name="c", type="TIMESTAMP", required=False),
         ["2026-02-30T00:00:00Z", "2026-11-25T24:00:00", "2026-11-25T10:00:60z", "0000-01-01T00:00:00Z",
          "2026-02-30T00:00:00XYZ", "2026-02-30T00:00:00+01:00", "2026-11-25T10:00:00.5+24:00", "2026-11-25",
          "2026-11-25T10:00:00.1234567Z", "2026-11-25T10:00:00Z but much longer than that", "2026-11-25T10:00:00Z"]),
    ],
    ids=["string", "email", "numeric", "date", "timestamp"],
)
def test_values_rejected_here_get_the_references_reason(column, values):
    """A value check_column rejects on its own, the reference rejects with the same reason;
    the rest of the rejections are left to the reference (never a wrong reason)."""
    text = pa.array(values, pa.string())
    checked = check_column(column, text, all(v.isascii() for v in values))
    decided = {}
    for reason, rows in checked.rejected.items():
        for i in np.flatnonzero(rows).tolist():
            assert i not in decided, values[i]
            decided[i] = reason
    for i, value in enumerate(values):
        try:
            parse_value(column, value)
            reference = None
        except ValueInvalid as exc:
            reference = str(exc)
        if i in decided:
            assert decided[i] == reference, value
    assert decided, "nothing decided: the test checks nothing"


# Every combination of edge values per field, separators and tails: 108,864 timestamps.
TIMESTAMP_PARTS = (
    ["0000", "0001", "1970", "2024", "2026", "9999"], ["00", "01", "02", "04", "12", "13"],
    ["00", "01", "28", "29", "30", "31", "32"], ["T", " "], ["00", "23", "24"], ["00", "59", "60"], ["00", "59", "60"],
    ["", "Z", "z", "+01:00", "-23:59", ".5Z", " UTC", "X"],
)
SCHEMA = pa.schema([pa.field("c", ARROW_TYPES["TIMESTAMP"])])


def test_timestamps_accepted_or_rejected_here_are_as_the_reference_reads_them():
    """Both ways of reading a timestamp here (Arrow's ISO cast for the common forms with every
    field surely in range, calendar arithmetic for the rest) agree with the reference: what is
    accepted has its value, what is rejected here has its reason."""
    values = [f"{y}-{mo}-{d}{sep}{h}:{mi}:{s}{tail}" for y, mo, d, sep, h, mi, s, tail in product(*TIMESTAMP_PARTS)]
    column = Column(name="c", type="TIMESTAMP", required=True)
    checked = check_column(column, pa.array(values, pa.string()), True)
    typed = checked.values.cast(pa.int64()).to_pylist()
    decided = {reason: set(np.flatnonzero(rows).tolist()) for reason, rows in checked.rejected.items()}
    accepted = rejected = 0
    for i, value in enumerate(values):
        try:
            expected, reason = parse_value(column, value), None
        except ValueInvalid as exc:
            expected, reason = ValueInvalid, str(exc)
        if checked.ok[i]:
            assert expected is not ValueInvalid, value
            assert typed[i] == rows_table(SCHEMA, [{"c": expected}]).column("c").cast(pa.int64())[0].as_py(), value
            accepted += 1
        reasons = [r for r, rows in decided.items() if i in rows]
        assert reasons in ([], [reason]), value
        rejected += bool(reasons)
    assert accepted > 5_000 and rejected > 5_000, (accepted, rejected)
