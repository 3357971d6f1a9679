"""Which run of a backfill re-ingests a day. Pure functions, no Airflow imports.

``airflow backfill create`` (and the UI's Backfill form) makes one DAG run per schedule tick in
the range: 96 a day for a feed due every 15 minutes. The archive holds files by day, so only the
day's first tick takes that day's archived files; every other backfill run of the day has
nothing to do and is skipped at choose_source. The decision depends on the run's logical date
and the feed's schedule only, so it is the same for every try, clear and re-run of a run.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from croniter import croniter


def previous_tick(schedule: str, moment: datetime) -> datetime:
    """The schedule's last tick strictly before ``moment`` (cron in UTC, the DAGs' timezone)."""
    return croniter(schedule, moment.astimezone(timezone.utc)).get_prev(datetime)


def claims_its_day(schedule: str | None, logical_date: datetime) -> bool:
    """True when a backfill run with this logical date is the first of its day (UTC), so the
    one that re-ingests the day's archive. A feed without a schedule has no ticks: each of its
    runs stands for itself."""
    if not schedule:
        return True
    moment = logical_date.astimezone(timezone.utc)
    return previous_tick(schedule, moment).date() < moment.date()


def first_tick_of_day(schedule: str, day: datetime) -> datetime | None:
    """The tick of that day (UTC) whose backfill run re-ingests it, or None when the schedule
    has no tick that day (a weekdays-only feed on a Saturday)."""
    midnight = day.astimezone(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    tick = croniter(schedule, midnight - timedelta(microseconds=1)).get_next(datetime)
    return tick if tick.date() == midnight.date() else None


def archive_day(logical_date: datetime) -> str:
    """The YYYYMMDD date of the archived files a backfill run re-ingests: its logical day in UTC."""
    return logical_date.astimezone(timezone.utc).strftime("%Y%m%d")
