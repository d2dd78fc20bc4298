"""When a meter needs staff's attention: pure detection rules, no I/O. `sensors.jobs` applies them.

- Leak: water that never stops flowing through the night. Every hourly step of the night
  window (01:00-05:00 local by default, four steps) shows consumption above zero. One step
  with none clears it; a night without readings around every step decides nothing.
- Stale: a smart meter with no reading for `stale_after` (counted from its installation
  day when it never sent one).
- Backwards: a reading lower than the latest counting one that staff have not reviewed.
- Verification due: the meter's verification date is within the warning period, or past.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from housing import clock
from sensors.usage.consumption import consumption
from sensors.usage.points import EffectivePoint

NIGHT_START_HOUR = 1
NIGHT_END_HOUR = 5


@dataclass(frozen=True, slots=True)
class Night:
    """The night window of one local date, as UTC-comparable aware datetimes."""

    day: date
    start: datetime
    end: datetime

    def hours(self) -> list[tuple[datetime, datetime]]:
        steps, at = [], self.start
        while at < self.end:
            steps.append((at, at + timedelta(hours=1)))
            at += timedelta(hours=1)
        return steps


def night_of(
    day: date, timezone: str, start_hour: int = NIGHT_START_HOUR, end_hour: int = NIGHT_END_HOUR
) -> Night:
    zone = ZoneInfo(timezone)
    return Night(
        day, datetime.combine(day, time(start_hour), zone), datetime.combine(day, time(end_hour), zone)
    )


def last_night(
    now: datetime, timezone: str, start_hour: int = NIGHT_START_HOUR, end_hour: int = NIGHT_END_HOUR
) -> Night:
    """The latest night window that is over at `now`."""
    today = clock.local_day(now, timezone)
    night = night_of(today, timezone, start_hour, end_hour)
    return night if night.end <= now else night_of(today - timedelta(days=1), timezone, start_hour, end_hour)


@dataclass(frozen=True, slots=True)
class NightFlow:
    leak: bool | None  # None: not enough readings to tell
    least: Decimal | None  # the smallest hourly consumption seen


def night_flow(points: Sequence[EffectivePoint], night: Night) -> NightFlow:
    """Whether water flowed in every hour of the night; steps need readings on both sides."""
    steps = []
    for start, end in night.hours():
        result = consumption(points, start, end, tolerance=timedelta(0))
        if result.how == "metered":
            steps.append(result.quantity)
    least = min(steps, default=None)
    if least is not None and least <= 0:
        return NightFlow(False, least)
    if len(steps) < len(night.hours()):
        return NightFlow(None, least)
    return NightFlow(True, least)


def stale(last_reading_at: datetime | None, installed_at: datetime, now: datetime, after: timedelta) -> bool:
    """A smart meter silent for longer than `after`."""
    return now - (last_reading_at or installed_at) > after


def verification_due(due: date | None, today: date, warning_days: int) -> bool:
    return due is not None and due <= today + timedelta(days=warning_days)


def unreviewed_backwards(points: Sequence[EffectivePoint]) -> list[EffectivePoint]:
    """The points that went backwards and that no staff verdict covers yet."""
    return [p for p in points if p.backwards and p.verdict is None]
