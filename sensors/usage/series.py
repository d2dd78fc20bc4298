"""Loads a meter's replacement series and hands it to the pure rules in `sensors.usage.consumption`.

Installation and removal days become instants at local midnight (`timezone`): the new
meter's initial value and the old meter's final value stand at the start of that day.
"""

from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from housing import clock
from housing.db import get_or_404
from sensors.meters.service import effective_readings, replacement_chain
from sensors.models import Meter, Reading
from sensors.usage.averages import chain_average_monthly
from sensors.usage.consumption import (
    DEFAULT_TIMEZONE,
    DEFAULT_TOLERANCE,
    ConsumptionResult,
    MeterSegment,
    chain_consumption,
)

_TICK = timedelta(microseconds=1)
# Readings on each side of a boundary loaded first: enough to interpolate or extrapolate
# unless staff excluded some; then the whole history is loaded instead.
_AROUND = 2


def meter_consumption(
    session: Session,
    meter_id: int,
    start: datetime,
    end: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> ConsumptionResult:
    """The consumption from `start` to `end` of the meter and the meters it replaced or was replaced by.

    A meter that is not `smart` (read by hand) goes by the manual meters' rule.
    """
    meters = _chain(session, meter_id)
    rule = {"tolerance": tolerance, "manual": _manual(meters, meter_id), "timezone": timezone}
    result = chain_consumption(
        _segments(session, meters, start, end, timezone, narrow=True), start, end, **rule
    )
    if result.how == "metered" and result.estimated_hours is None:
        return result
    return chain_consumption(
        _segments(session, meters, start, end, timezone, narrow=False), start, end, **rule
    )


def _manual(meters: list[Meter], meter_id: int) -> bool:
    """Whether the meter asked for is read by hand (`Meter.smart` false): its series follows its rule."""
    return not next(m.smart for m in meters if m.id == meter_id)


def meter_average(
    session: Session,
    meter_id: int,
    before: date,
    *,
    months: int = 12,
    min_months: int = 3,
    timezone: str = DEFAULT_TIMEZONE,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> Decimal | None:
    """The average monthly consumption over the `months` calendar months before `before`'s month.

    None when fewer than `min_months` of them are metered throughout (see
    `sensors.usage.averages.average_monthly`); the series runs across meter replacements.
    """
    zone = ZoneInfo(timezone)
    first = _month_start(before, -months, zone)
    last = _month_start(before, 0, zone)
    meters = _chain(session, meter_id)
    segments = _segments(session, meters, first, last, timezone, narrow=True)
    return chain_average_monthly(
        segments,
        before,
        months,
        min_months,
        timezone=timezone,
        tolerance=tolerance,
        manual=_manual(meters, meter_id),
    )


def _month_start(day: date, months: int, zone: ZoneInfo) -> datetime:
    """Local midnight on the first of the month `months` after `day`'s."""
    return datetime.combine(clock.add_months(day, months), time.min, tzinfo=zone)


def _chain(session: Session, meter_id: int) -> list[Meter]:
    meter = get_or_404(session, Meter, meter_id, "meter")
    ids = replacement_chain(session, meter)
    rows = {m.id: m for m in session.exec(select(Meter).where(col(Meter.id).in_(ids)))}
    return [rows[i] for i in ids]


def _segments(
    session: Session, meters: list[Meter], start: datetime, end: datetime, timezone: str, *, narrow: bool
) -> list[MeterSegment]:
    zone = ZoneInfo(timezone)
    segments = []
    for i, meter in enumerate(meters):
        installed_at = datetime.combine(meter.installed_on, time(), zone)
        removed_on = meter.removed_on
        if removed_on is None and i + 1 < len(meters):
            removed_on = meters[i + 1].installed_on
        removed_at = datetime.combine(removed_on, time(), zone) if removed_on else None
        overlaps = installed_at < end and (removed_at is None or removed_at > start)
        points = []
        if overlaps:
            lo, hi = _window(session, meter.id, start, end) if narrow else (None, None)
            points = effective_readings(session, meter.id, start=lo, end=hi)
        segments.append(
            MeterSegment(
                points=points,
                installed_at=installed_at,
                initial_value=meter.initial_value,
                removed_at=removed_at,
                final_value=meter.final_value if removed_at else None,
                digits=meter.digits,
                meter_id=meter.id,
            )
        )
    return segments


def _window(
    session: Session, meter_id: int, start: datetime, end: datetime
) -> tuple[datetime | None, datetime | None]:
    """From the `_AROUND`th reading before `start` to the `_AROUND`th from `end`; None: no limit."""
    lo = session.exec(
        select(Reading.taken_at)
        .where(Reading.meter_id == meter_id, Reading.taken_at < start)
        .order_by(col(Reading.taken_at).desc())
        .offset(_AROUND - 1)
        .limit(1)
    ).first()
    hi = session.exec(
        select(Reading.taken_at)
        .where(Reading.meter_id == meter_id, Reading.taken_at >= end)
        .order_by(Reading.taken_at)
        .offset(_AROUND - 1)
        .limit(1)
    ).first()
    return lo, (hi + _TICK if hi is not None else None)


def monthly_consumption(
    session: Session,
    meter_id: int,
    *,
    months: int,
    now: datetime,
    timezone: str = DEFAULT_TIMEZONE,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> list[tuple[date, ConsumptionResult]]:
    """The consumption of each of the last `months` calendar months, the current one up to `now`.

    The readings of the whole span are loaded once and every month is computed from them,
    so a chart costs the same few queries as one period.
    """
    zone = ZoneInfo(timezone)
    today = clock.local_day(now, timezone)
    starts = [_month_start(today, -k, zone) for k in range(months - 1, -1, -1)]
    meters = _chain(session, meter_id)
    segments = _segments(session, meters, starts[0], now, timezone, narrow=True)
    ends = [*starts[1:], now]
    rule = {"tolerance": tolerance, "manual": _manual(meters, meter_id), "timezone": timezone}
    return [
        (start.date(), chain_consumption(segments, start, end, **rule))
        for start, end in zip(starts, ends, strict=True)
    ]
