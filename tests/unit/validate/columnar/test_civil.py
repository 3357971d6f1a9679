"""Vectorized calendar arithmetic against Python's datetime."""

from __future__ import annotations

import random
from datetime import date

import numpy as np

from feedline.validate.columnar import format_utc_micros
from feedline.validate.columnar.civil import MAX_US, MIN_US, civil_from_days, date_exists, days_from_civil


def test_utc_formatting_matches_python_datetime_over_the_whole_range():
    from datetime import datetime, timedelta, timezone

    import numpy as np

    rng = random.Random(5)
    low, high = -62135596800 * 10**6, 253402300800 * 10**6 - 1
    micros = [low, high, 0, -1, 951782400 * 10**6] + [rng.randint(low, high) for _ in range(20000)]
    expected = [
        (datetime(1970, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=m)).strftime("%m-%dT%H:%M:%S.%fZ")
        for m in micros
    ]
    years = [(datetime(1970, 1, 1) + timedelta(microseconds=m)).year for m in micros]
    got = format_utc_micros(np.array(micros, dtype=np.int64)).to_pylist()
    assert got == [f"{y:04d}-{e}" for y, e in zip(years, expected)]


def test_days_from_civil_and_back_match_date_ordinals():
    rng = random.Random(3)
    days = [date(1, 1, 1), date(9999, 12, 31), date(1970, 1, 1), date(2000, 2, 29), date(1900, 3, 1)]
    days += [date.fromordinal(rng.randint(1, date(9999, 12, 31).toordinal())) for _ in range(5000)]
    epoch = date(1970, 1, 1).toordinal()
    y, m, d = (np.array(v, dtype=np.int64) for v in zip(*((x.year, x.month, x.day) for x in days)))
    assert days_from_civil(y, m, d).tolist() == [x.toordinal() - epoch for x in days]
    back = civil_from_days(days_from_civil(y, m, d))
    assert [tuple(map(int, t)) for t in zip(*back)] == [(x.year, x.month, x.day) for x in days]


def test_date_exists_as_datetime_says():
    cases = [(2024, 2, 29), (2026, 2, 29), (1900, 2, 29), (2000, 2, 29), (2026, 4, 31), (2026, 13, 1),
             (2026, 0, 1), (0, 1, 1), (2026, 12, 31), (2026, 1, 0)]

    def exists(y, m, d):
        try:
            date(y, m, d)
        except ValueError:
            return False
        return True

    y, m, d = (np.array(v, dtype=np.int64) for v in zip(*cases))
    assert date_exists(y, m, d).tolist() == [exists(*c) for c in cases]


def test_the_range_is_bigquerys():
    assert format_utc_micros(np.array([MIN_US, MAX_US], dtype=np.int64)).to_pylist() == [
        "0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z"
    ]
