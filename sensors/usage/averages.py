"""A meter's average month, for billing months without readings: pure functions, no I/O.

The average of the whole calendar months (in the city's time zone) metered without a gap
or an estimated boundary in the year before the billed month (docs/consumption.md).
"""

from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, localcontext
from zoneinfo import ZoneInfo

from housing import clock
from sensors.usage.consumption import (
    ARITHMETIC,
    DEFAULT_TIMEZONE,
    DEFAULT_TOLERANCE,
    QUANTITY,
    ConsumptionResult,
    MeterSegment,
    chain_parts,
    rule_for,
)
from sensors.usage.points import EffectivePoint


def average_monthly(
    points: Sequence[EffectivePoint],
    before: date,
    months: int = 12,
    min_months: int = 3,
    *,
    digits: int | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    manual: bool = False,
) -> Decimal | None:
    """The meter's average consumption per calendar month, for billing months without readings.

    Looks at the `months` whole calendar months (in `timezone`) before the month of
    `before`. A month counts when it is metered with no estimated boundary and at least
    one reading was taken in it (a month merely spanned by two distant readings is not
    history; for a manual meter: its own reading, one month after the previous one); the
    average is over the months that count, None when fewer than `min_months` do. Rounded
    to 3 decimals, half up.
    """
    measure = rule_for(manual, timezone)
    return _average(
        lambda s, e: measure(points, s, e, digits, tolerance),
        before,
        months,
        min_months,
        timezone,
    )


def chain_average_monthly(
    segments: Sequence[MeterSegment],
    before: date,
    months: int = 12,
    min_months: int = 3,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    manual: bool = False,
) -> Decimal | None:
    """`average_monthly` across a replacement series: a month may be shared by two meters.

    A month counts only when it is metered from its first to its last instant.
    """
    measure = rule_for(manual, timezone)
    return _average(
        lambda s, e: chain_parts(segments, s, e, tolerance, measure), before, months, min_months, timezone
    )


def _local_month(period: date, zone: ZoneInfo) -> datetime:
    """Local midnight on the first day of `period`'s month."""
    return datetime.combine(clock.month_of(period), time.min, tzinfo=zone)


def _whole(result: ConsumptionResult, start: datetime, end: datetime) -> bool:
    """Metered from `start` to `end` without a gap or an estimated boundary, read at least once."""
    if result.how != "metered" or result.estimated_hours is not None or result.readings == 0:
        return False
    if result.manual:  # its own reading, one month after one before the month (not a fitting in it)
        return result.covers == 1 and start <= result.end.at <= end and result.start.at < start
    if result.start.at != start or result.end.at != end:
        return False
    return all(a.end.at == b.start.at for a, b in zip(result.parts, result.parts[1:], strict=False))


def _average(
    measure: Callable[[datetime, datetime], ConsumptionResult],
    before: date,
    months: int,
    min_months: int,
    timezone: str,
) -> Decimal | None:
    zone = ZoneInfo(timezone)
    quantities = []
    with localcontext(ARITHMETIC):
        for back in range(months, 0, -1):
            start = _local_month(clock.add_months(before, -back), zone)
            end = _local_month(clock.add_months(before, -back + 1), zone)
            result = measure(start, end)
            if _whole(result, start, end):
                quantities.append(result.exact)
        if len(quantities) < min_months:
            return None
        return (sum(quantities, Decimal(0)) / len(quantities)).quantize(QUANTITY, rounding=ROUND_HALF_UP)
