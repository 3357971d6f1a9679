"""Vectorized calendar arithmetic against Python's datetime."""

from __future__ import annotations

import random
from datetime import date

import numpy as np

from feedline.validate.columnar.civil import MAX_US, MIN_US, date_exists, days_from_civil


def test_days_from_civil_match_date_ordinals():
    rng = random.Random(3)
    days = [date(1, 1, 1), date(9999, 12, 31), date(1970, 1, 1), date(2000, 2, 29), date(1900, 3, 1)]
    days += [date.fromordinal(rng.randint(1, date(9999, 12, 31).toordinal())) for _ in range(5000)]
    epoch = date(1970, 1, 1).toordinal()
    y, m, d = (np.array(v, dtype=np.int64) for v in zip(*((x.year, x.month, x.day) for x in days)))
    assert days_from_civil(y, m, d).tolist() == [x.toordinal() - epoch for x in days]


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
    from datetime import datetime, timezone

    def micros(t: datetime) -> int:
        return (t - datetime(1970, 1, 1, tzinfo=timezone.utc)) // timedelta(microseconds=1)

    from datetime import timedelta

    assert MIN_US == micros(datetime(1, 1, 1, tzinfo=timezone.utc))
    assert MAX_US == micros(datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=timezone.utc))
