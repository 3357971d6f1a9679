"""Which backfill run of a day re-ingests that day's archive: exactly one tick per day."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from feedline.orchestrate import backfill

UTC = timezone.utc


def ticks(schedule: str, start: datetime, end: datetime) -> list[datetime]:
    """Every tick in [start, end): the logical dates of a backfill's runs over that range."""
    from croniter import croniter

    it = croniter(schedule, start - timedelta(microseconds=1))
    out = []
    while (t := it.get_next(datetime)) < end:
        out.append(t)
    return out


@pytest.mark.parametrize(
    "schedule, first_of_day, later_same_day",
    [
        ("*/15 * * * *", datetime(2026, 11, 27, 0, 0, tzinfo=UTC), datetime(2026, 11, 27, 0, 15, tzinfo=UTC)),
        ("5 * * * *", datetime(2026, 11, 27, 0, 5, tzinfo=UTC), datetime(2026, 11, 27, 1, 5, tzinfo=UTC)),
        ("0 2 * * *", datetime(2026, 11, 27, 2, 0, tzinfo=UTC), None),
        ("0 2 * * 1-5", datetime(2026, 11, 30, 2, 0, tzinfo=UTC), None),  # a Monday: Friday's tick before
    ],
)
def test_only_the_first_tick_of_a_day_claims_it(schedule, first_of_day, later_same_day):
    assert backfill.claims_its_day(schedule, first_of_day)
    assert backfill.first_tick_of_day(schedule, first_of_day) == first_of_day
    if later_same_day:
        assert not backfill.claims_its_day(schedule, later_same_day)
        assert backfill.first_tick_of_day(schedule, later_same_day) == first_of_day


@pytest.mark.parametrize(
    "schedule, days_with_ticks, runs",
    [
        ("*/15 * * * *", 3, 3 * 96),
        ("5 * * * *", 3, 3 * 24),
        ("0 2 * * *", 3, 3),
        ("0 2 * * 1-5", 1, 1),  # Fri 27 .. Sun 29 November 2026: Friday only
        ("*/30 * * * *", 3, 3 * 48),  # customers
    ],
)
def test_a_backfill_over_days_claims_each_day_once(schedule, days_with_ticks, runs):
    start, end = datetime(2026, 11, 27, tzinfo=UTC), datetime(2026, 11, 30, tzinfo=UTC)
    logical_dates = ticks(schedule, start, end)
    claiming = [t for t in logical_dates if backfill.claims_its_day(schedule, t)]
    assert len(logical_dates) == runs
    assert len(claiming) == days_with_ticks
    assert len({t.date() for t in claiming}) == days_with_ticks  # one per day, never two


def test_days_are_utc_days_whatever_the_offset_of_the_logical_date():
    late_evening = datetime(2026, 11, 26, 19, 0, tzinfo=timezone(timedelta(hours=-5)))  # 00:00 UTC on the 27th
    assert backfill.claims_its_day("*/15 * * * *", late_evening)
    assert backfill.archive_day(late_evening) == "20261127"
    assert not backfill.claims_its_day("*/15 * * * *", late_evening + timedelta(minutes=15))


def test_a_day_without_a_tick_has_no_first_tick_and_unscheduled_feeds_always_claim():
    assert backfill.first_tick_of_day("0 2 * * 1-5", datetime(2026, 11, 28, 12, tzinfo=UTC)) is None
    assert backfill.claims_its_day(None, datetime(2026, 11, 28, 12, tzinfo=UTC))
    assert backfill.claims_its_day("@daily", datetime(2026, 11, 28, tzinfo=UTC))
    assert backfill.previous_tick("@hourly", datetime(2026, 11, 28, 0, 30, tzinfo=UTC)) == datetime(
        2026, 11, 28, tzinfo=UTC
    )
