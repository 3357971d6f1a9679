"""Calendar arithmetic (proleptic Gregorian, as Python's datetime), vectorized with numpy."""

from __future__ import annotations

import numpy as np

_DAYS_IN_MONTH = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], dtype=np.int64)
_DAY_US = 86_400_000_000
# Microseconds since the epoch of 0001-01-01T00:00:00 and of 9999-12-31T23:59:59.999999 (UTC).
MIN_US, MAX_US = -62135596800 * 10**6, 253402300800 * 10**6 - 1


def date_exists(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    month_ok = (m >= 1) & (m <= 12)
    dim = _DAYS_IN_MONTH[np.where(month_ok, m, 0)] + ((m == 2) & leap)
    return (y >= 1) & month_ok & (d >= 1) & (d <= dim)


def days_from_civil(y: np.ndarray, m: np.ndarray, d: np.ndarray) -> np.ndarray:
    """Days since 1970-01-01 (H. Hinnant's days_from_civil)."""
    y = y - (m <= 2)
    era = np.floor_divide(y, 400)
    yoe = y - era * 400
    doy = (153 * (m + np.where(m > 2, -3, 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
