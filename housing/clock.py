"""Time as the city sees it: the one clock, local days, and months.

`now()` is the one clock: "today", the local time and the months derive from it, and the
calendar jobs stamp what they issue with it, so a test freezes time by overriding `now`
alone (the `frozen_clock` fixture). A job that works "for a day" takes the day as a
parameter instead (`housing jobs run NAME --on DAY`).

A period is the first day of a local month. A month runs from local midnight on its first
day to local midnight on the first day of the next, so a request filed at 00:30 on
1 November in Tashkent (19:30 UTC on 31 October) belongs to November. No FastAPI here: the
request dependencies `Today` and `Now` are in `housing.deps`.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from housing.db import utcnow
from housing.validation import month_start


def now() -> datetime:
    """The current moment (UTC, aware)."""
    return utcnow()


def local_now(timezone: str) -> datetime:
    return now().astimezone(ZoneInfo(timezone))


def local_today(timezone: str) -> date:
    return local_now(timezone).date()


def local_day(moment: datetime, timezone: str) -> date:
    """The local calendar day a UTC moment falls on."""
    return moment.astimezone(ZoneInfo(timezone)).date()


@dataclass(frozen=True)
class Month:
    period: date  # the first day
    starts: datetime  # UTC, inclusive
    ends: datetime  # UTC, exclusive

    @property
    def label(self) -> str:
        return f"{self.period:%Y-%m}"


def parse_period(text: str) -> date:
    """'2026-10' -> date(2026, 10, 1); ValueError for anything else, or a month outside 2000..2100."""
    return month_start(text)


def add_months(period: date, months: int) -> date:
    index = period.year * 12 + period.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_of(day: date) -> date:
    return day.replace(day=1)


def month_at(moment: datetime, timezone: str) -> date:
    """The period a UTC moment falls in, by the local calendar."""
    return moment.astimezone(ZoneInfo(timezone)).date().replace(day=1)


def local_midnight(day: date, timezone: str) -> datetime:
    """The UTC moment the local calendar day begins."""
    return datetime.combine(day, time.min, tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def month(period: date, timezone: str) -> Month:
    period = month_of(period)
    return Month(
        period=period,
        starts=local_midnight(period, timezone),
        ends=local_midnight(add_months(period, 1), timezone),
    )


def last_months(until: date, count: int) -> list[date]:
    """The `count` periods ending with the month of `until`, oldest first."""
    last = month_of(until)
    return [add_months(last, -i) for i in range(count - 1, -1, -1)]


def month_end(period: date) -> date:
    """The first day of the next month: the exclusive end of `period`'s month."""
    return add_months(month_of(period), 1)


def previous_month(day: date) -> date:
    """The month before the one `day` falls in."""
    return add_months(month_of(day), -1)
