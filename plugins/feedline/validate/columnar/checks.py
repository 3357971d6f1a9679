"""Validating one column of a block: which values the reference certainly accepts, and their typed Arrow values."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from feedline.contract.model import Column
from feedline.validate.columnar.arrow import bools, fixed_digits, ints, scatter, scatter_bools, string_offsets, string_scalar
from feedline.validate.columnar.civil import MAX_US, MIN_US, date_exists, days_from_civil
from feedline.validate.outputs import ARROW_TYPES
from feedline.validate.rules import (
    MISSING, NO_SUCH_DATE, NO_SUCH_TIMESTAMP, NOT_ALLOWED, NOT_DATE, NOT_EMAIL, NOT_NUMERIC, NOT_TIMESTAMP, too_long,
)

# Exactly what str.strip() removes (str.isspace(); a test compares with all of Unicode).
PY_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
ASCII_WHITESPACE = "".join(c for c in PY_WHITESPACE if c < "\x80")

# RE2 twins of rules.py's patterns, exact on any value: those use re.ASCII (\d is [0-9]), and
# EMAIL's Unicode \s is spelled out; $ after strip() is the end. Both the acceptances and the
# rejections they decide are the reference's.
_NUMERIC = r"^[+-]?[0-9]{1,29}(\.[0-9]{1,9})?$"
_INT64_18 = r"^[+-]?[0-9]{1,18}$"  # 19 digits may overflow: the reference decides those
_FLOAT64 = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"
_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
_TIMESTAMP_REST = r"^(\.[0-9]{1,6})?(Z|z| UTC|[+-][0-9]{2}:?[0-9]{2})?$"
_TIMESTAMP_TAIL = r"^(?:\.(?P<frac>[0-9]{1,6}))?(?:(?P<utc>Z|z| UTC)|(?P<sign>[+-])(?P<oh>[0-9]{2}):?(?P<om>[0-9]{2}))?$"
_NOT_SPACE_AT = f"[^@{PY_WHITESPACE}]"  # Python's [^@\s] on any str: RE2's \s is ASCII only
_EMAIL = rf"^{_NOT_SPACE_AT}+@{_NOT_SPACE_AT}+\.{_NOT_SPACE_AT}+$"


@dataclass
class Checked:
    ok: np.ndarray  # per row: the reference certainly accepts the value
    # Where ``ok``: the typed value (outputs.ARROW_TYPES; a STRING may come dictionary-encoded),
    # NULL for an empty optional value. Elsewhere, whatever was cheapest (NULL, or a stand-in
    # such as 0): the validator keeps only the rows ok in every column.
    values: pa.Array
    day: pa.Array | None = None  # date32: the partition column's day (UTC for a TIMESTAMP), as ``values``
    # reason (rules.py's text) -> per row: the reference certainly rejects the value with it.
    # Rows neither ok nor rejected here are the reference's to decide.
    rejected: dict[str, np.ndarray] = field(default_factory=dict)


def _matches(values: pa.Array, pattern: str) -> np.ndarray:
    return bools(pc.match_substring_regex(values, pattern))


_DIGIT_AT = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]


@dataclass
class _Timestamps:
    ok: np.ndarray  # certainly valid
    micros: np.ndarray  # since the epoch in UTC where ok, else 0
    not_iso: np.ndarray  # certainly NOT_TIMESTAMP: no ``YYYY-MM-DD?HH:MM:SS`` head, or a length no tail gives
    no_such: np.ndarray  # certainly NO_SUCH_TIMESTAMP: a well-formed UTC time that does not exist


def _surely_in_range(digits: list[np.ndarray]) -> np.ndarray:
    """Per value of a ``YYYY-MM-DD?HH:MM:SS`` head (its 14 digits, _DIGIT_AT): year 0001-9999,
    month 01-12, day 01-28, hour 00-23, minute and second 00-59: a time that exists whatever
    the month and year."""
    y1, y2, y3, y4, mo1, mo2, d1, d2, h1, h2, mi1, _, s1, _ = digits
    return (
        ((y1 | y2 | y3 | y4) > 0)
        & (((mo1 == 0) & (mo2 >= 1)) | ((mo1 == 1) & (mo2 <= 2)))
        & (((d1 == 0) & (d2 >= 1)) | (d1 == 1) | ((d1 == 2) & (d2 <= 8)))
        & ((h1 <= 1) | ((h1 == 2) & (h2 <= 3)))
        & (mi1 <= 5) & (s1 <= 5)
    )


def _civil_seconds(digits: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """(the time exists, seconds since the epoch as written) per value of a shaped head."""

    def number(first: int, count: int) -> np.ndarray:
        out = digits[first].astype(np.int64)
        for k in range(first + 1, first + count):
            out = out * 10 + digits[k]
        return out

    y, mo, d, h, mi, s = number(0, 4), number(4, 2), number(6, 2), number(8, 2), number(10, 2), number(12, 2)
    good = date_exists(y, mo, d) & (h <= 23) & (mi <= 59) & (s <= 59)
    safe = np.where(good, 1, 0)  # days_from_civil of garbage must not overflow
    seconds = (days_from_civil(np.where(good, y, 1970), np.where(good, mo, 1), np.where(good, d, 1)) * 86400
               + (h * 3600 + mi * 60 + s) * safe)
    return good, seconds


def _check_timestamps(text: pa.Array, candidates: np.ndarray) -> _Timestamps:
    """The ``candidates`` (non-empty values) as rules._parse_timestamp reads them.

    The fixed head ``YYYY-MM-DD?HH:MM:SS`` is checked on its bytes; the tail (fraction,
    ``Z``, offset, `` UTC``) by a regex, only for values that have one. A value the regex
    can match has 19 to 32 ASCII characters; a non-ASCII byte in the head breaks its shape."""
    n = len(text)
    lengths = np.diff(string_offsets(text))
    fits = (lengths >= 19) & (lengths <= 32)
    where = np.flatnonzero(candidates & fits)
    sub = text.take(where) if len(where) < n else text
    offsets = string_offsets(sub)
    lengths = np.diff(offsets)
    data = np.frombuffer(sub.buffers()[2], dtype=np.uint8) if len(sub) else np.zeros(20, np.uint8)
    if len(sub) and (lengths == lengths[0]).all():  # one width (the usual case): a matrix view
        head = data[offsets[0] : offsets[-1]].reshape(len(sub), int(lengths[0]))[:, :19]
    else:
        head = data[offsets[:-1, None] + np.arange(19)]
    # One byte column at a time (strided views: no copy of the matrix); as uint8, a byte below
    # "0" wraps above 9, so one comparison checks each digit.
    digits = [head[:, k] - np.uint8(48) for k in _DIGIT_AT]
    shaped = (
        (head[:, 4] == ord("-"))
        & (head[:, 7] == ord("-"))
        & ((head[:, 10] == ord("T")) | (head[:, 10] == ord(" ")))
        & (head[:, 13] == ord(":"))
        & (head[:, 16] == ord(":"))
    )
    for digit in digits:
        shaped &= digit <= 9

    zone = data[np.minimum(offsets[:-1] + 19, len(data) - 1)]
    simple = (lengths == 19) | ((lengths == 20) & ((zone == ord("Z")) | (zone == ord("z"))))
    not_iso = candidates & ~fits
    not_iso[where] = ~shaped
    # Most values are read by Arrow's strict ISO-8601 cast: the common forms (T, no zone or Z)
    # with every field surely in range (day 01-28), which the cast cannot fail on. Calendar
    # arithmetic in numpy decides the rest (other days, zones, odd forms).
    sure = (shaped & (head[:, 10] == ord("T")) & ((lengths == 19) | ((lengths == 20) & (zone == ord("Z"))))
            & _surely_in_range(digits))
    good = sure.copy()
    seconds = np.zeros(len(sub), dtype=np.int64)
    micros = np.zeros(len(sub), dtype=np.int64)
    for width, arrow_type in ((19, pa.timestamp("us")), (20, ARROW_TYPES["TIMESTAMP"])):
        rows = np.flatnonzero(sure & (lengths == width))
        if len(rows):
            micros[rows] = ints(pc.cast(sub if len(rows) == len(sub) else sub.take(rows), arrow_type))
    slow = np.flatnonzero(shaped & ~sure)
    if len(slow):
        good[slow], seconds[slow] = _civil_seconds([digit[slow] for digit in digits])
        micros[slow] = seconds[slow] * 1_000_000
    no_such = scatter_bools(n, where, simple & shaped & ~good)  # UTC as written: nothing to overflow
    rest = np.flatnonzero(~simple & good)
    good[~simple] = False
    if len(rest):
        tails = pc.utf8_slice_codeunits(sub.take(rest), 19)
        matched = bools(pc.match_substring_regex(tails, _TIMESTAMP_REST))
        rest, tails = rest[matched], tails.filter(pa.array(matched))
        parts = pc.extract_regex(tails, _TIMESTAMP_TAIL)
        fraction = ints(pc.cast(pc.utf8_rpad(parts.field("frac"), 6, "0"), pa.int64()))
        sign = parts.field("sign")
        has_offset = pc.not_equal(sign, string_scalar(""))
        oh = ints(pc.cast(pc.if_else(has_offset, parts.field("oh"), string_scalar("0")), pa.int64()))
        om = ints(pc.cast(pc.if_else(has_offset, parts.field("om"), string_scalar("0")), pa.int64()))
        minutes = oh * 60 + om
        offset = np.where(bools(pc.equal(sign, string_scalar("-"))), -minutes, minutes)
        utc = (seconds[rest] - offset * 60) * 1_000_000 + fraction
        # validation: an offset of 24 hours or more does not exist; UTC must stay in 1..9999
        fine = (minutes < 24 * 60) & (utc >= MIN_US) & (utc <= MAX_US)
        good[rest] = fine
        micros[rest] = np.where(fine, utc, 0)
    out_micros = np.zeros(n, dtype=np.int64)
    out_micros[where] = np.where(good, micros, 0)
    return _Timestamps(scatter_bools(n, where, good), out_micros, not_iso, no_such)


_DAY_US = 86_400_000_000


def _coded(text: pa.Array, column: Column) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    """(the values as a dictionary array, per row: it matches the column's pattern, per row:
    it is one of its allowed values) for a STRING column with a pattern or allowed values.
    One hash pass, the one the check needs anyway, gives the dictionary; the Parquet writer
    then takes it as it is instead of hashing the column again (outputs.stored_schema)."""
    if column.pattern is None:  # the allowed values are the dictionary
        words = pa.array(list(column.allowed_values), pa.string())
        index = pc.index_in(text, value_set=words)
        return pa.DictionaryArray.from_arrays(index, words), np.ones(len(text), dtype=bool), bools(pc.is_valid(index))
    # A pattern: each distinct value is matched once, in Python (re, as the reference).
    encoded = pc.dictionary_encode(text)
    distinct = encoded.dictionary.to_pylist()
    pattern = re.compile(column.pattern)
    allowed_values = set(column.allowed_values) if column.allowed_values is not None else None
    matches = np.array([pattern.fullmatch(v) is not None for v in distinct], dtype=bool)
    allowed = np.array([allowed_values is None or v in allowed_values for v in distinct], dtype=bool)
    index = ints(encoded.indices)  # trimmed CSV fields: never NULL
    return encoded, matches[index], allowed[index]


def check_column(column: Column, raw: pa.Array, ascii_only: bool, want_day: bool = False) -> Checked:
    """Vectorized parse_value over one column: which values the reference certainly accepts,
    and their typed values. Conservative: whatever it does not accept, the reference decides."""
    n = len(raw)
    text = (
        pc.ascii_trim(raw, characters=ASCII_WHITESPACE)
        if ascii_only
        else pc.utf8_trim(raw, characters=PY_WHITESPACE)
    )
    length = ints(pc.binary_length(text) if ascii_only else pc.utf8_length(text))
    empty = length == 0
    ok = ~empty
    rejected = {MISSING: empty} if column.required else {}
    if column.max_length is not None:
        rejected[too_long(column.max_length)] = ok & (length > column.max_length)
        ok &= length <= column.max_length
    day = None
    kind = column.type
    arrow_type = ARROW_TYPES[kind]
    if not ok.any():
        values = pa.nulls(n, arrow_type)
    elif kind == "STRING":
        values = text
        if column.check == "email":  # the RE2 twin is exact on any value
            email = _matches(text, _EMAIL)
            rejected[NOT_EMAIL] = ok & ~email
            ok &= email
        if column.pattern is not None or column.allowed_values is not None:
            values, matches, allowed = _coded(text, column)
            ok &= matches
            if column.allowed_values is not None and column.check is None and column.pattern is None:
                rejected[NOT_ALLOWED] = ok & ~allowed  # nothing decided before it
            ok &= allowed
    elif kind == "NUMERIC":
        plain = _matches(text, _NUMERIC)
        rejected[NOT_NUMERIC] = ok & ~plain
        ok &= plain
        value = text if ok.all() else pc.if_else(pa.array(ok), text, string_scalar("0"))  # see Checked.values
        if pc.any(pc.starts_with(value, "+")).as_py():
            value = pc.replace_substring_regex(value, r"^\+", "")
        values = pc.cast(value, arrow_type)
    elif kind == "DATE":
        shaped = _matches(text, _DATE)
        rejected[NOT_DATE] = ok & ~shaped
        where = np.flatnonzero(ok & shaped)
        digits = fixed_digits(text.take(where), [0, 1, 2, 3, 5, 6, 8, 9])
        year = digits[:, 0] * 1000 + digits[:, 1] * 100 + digits[:, 2] * 10 + digits[:, 3]
        month, dom = digits[:, 4] * 10 + digits[:, 5], digits[:, 6] * 10 + digits[:, 7]
        exists = date_exists(year, month, dom)
        rejected[NO_SUCH_DATE] = scatter_bools(n, where, ~exists)
        ok &= scatter_bools(n, where, exists)
        where = where[exists]
        days = days_from_civil(year[exists], month[exists], dom[exists]).astype(np.int32)
        values = day = scatter(n, where, pa.array(days, pa.int32()).cast(arrow_type))
    elif kind == "TIMESTAMP":
        checked = _check_timestamps(text, ok)
        rejected[NOT_TIMESTAMP], rejected[NO_SUCH_TIMESTAMP] = checked.not_iso, checked.no_such
        ok &= checked.ok
        values = pa.array(checked.micros, pa.int64()).cast(arrow_type)  # 0 where not ok: see Checked.values
        if want_day:
            day = pa.array(np.floor_divide(checked.micros, _DAY_US).astype(np.int32), pa.int32()).cast(pa.date32())
    elif kind == "INT64":
        where = np.flatnonzero(ok & _matches(text, _INT64_18))
        ok &= scatter_bools(n, where, np.ones(len(where), dtype=bool))
        parsed = pc.cast(pc.replace_substring_regex(text.take(where), r"^\+", ""), pa.int64())
        values = scatter(n, where, parsed)
    elif kind == "FLOAT64":
        where = np.flatnonzero(ok & _matches(text, _FLOAT64))
        floats = np.array([float(v) for v in text.take(where).to_pylist()], dtype=np.float64)
        finite = np.isfinite(floats)
        ok &= scatter_bools(n, where, finite)
        values = scatter(n, where[finite], pa.array(floats[finite], pa.float64()))
    elif kind == "BOOL":
        lower = pc.ascii_lower(text)
        ok &= bools(pc.string_is_ascii(text)) & bools(pc.is_in(lower, value_set=pa.array(["true", "false", "1", "0"])))
        values = pc.is_in(lower, value_set=pa.array(["true", "1"]))
    else:  # pragma: no cover - contracts.TYPES is closed
        raise ValueError(f"unknown column type {kind}")
    if not column.required and empty.any():
        ok |= empty
        null = pa.array(empty)
        values = pc.if_else(null, pa.scalar(None, arrow_type), values)
        if day is not None:
            day = pc.if_else(null, pa.scalar(None, pa.date32()), day)
    return Checked(ok, values, day if want_day else None, rejected)
