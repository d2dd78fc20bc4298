"""Catching up scheduled work from the calendar, not from the scheduler's uptime.

A calendar job (a month's billing, a day's penalties) records in `job_progress` the last
day or month it finished, in the same transaction as the work; each run does every day or
month after it through the one it is run for, oldest first. A day is a local calendar
day; a month is given by its first day. Flushes, never commits.
"""

from collections.abc import Iterator
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session

from housing import clock
from housing.catchup.models import JobProgress
from housing.clock import add_months


def done_through(session: Session, job: str) -> date | None:
    """The last day (or month) the job finished; None before its first run."""
    row = session.get(JobProgress, job, populate_existing=True)
    return None if row is None else row.done_through


def mark_done(session: Session, job: str, through: date) -> None:
    """Records that the job finished `through`; never moves its progress back."""
    row = session.get(JobProgress, job, populate_existing=True)
    if row is None:
        session.add(JobProgress(job=job, done_through=through, updated_at=clock.now()))
    elif through > row.done_through:
        row.done_through, row.updated_at = through, clock.now()
        session.add(row)
    session.flush()


def days(first: date, last: date) -> Iterator[date]:
    """Each day from `first` through `last` (none when `first` is later)."""
    for n in range((last - first).days + 1):
        yield first + timedelta(days=n)


def months(first: date, last: date) -> Iterator[date]:
    """The first day of each month from `first`'s through `last`'s."""
    month, last = first.replace(day=1), last.replace(day=1)
    while month <= last:
        yield month
        month = add_months(month, 1)


def expected_through(now: datetime, timezone: str, *, monthly: bool, at: time, grace: timedelta) -> date:
    """What a job scheduled daily (or on the 1st) at local `at` should have finished by `now`.

    A daily job run for its day at `at` should be done through today once `at + grace` has
    passed, through yesterday before that; a monthly job billing last month on the 1st at
    `at` through last month once the 1st's `at + grace` has passed, else the month before.
    """
    local = now.astimezone(ZoneInfo(timezone))
    today = local.date()
    if monthly:
        this_month = today.replace(day=1)
        ran = datetime.combine(this_month, at, ZoneInfo(timezone)) + grace
        return add_months(this_month, -1 if local >= ran else -2)
    ran = datetime.combine(today, at, ZoneInfo(timezone)) + grace
    return today if local >= ran else today - timedelta(days=1)
