"""Consumption of a meter over a period, and its average month: pure functions, no I/O.

The rules (DESIGN.md, "Domain rules"):

- The consumption of a period is the register at the period's end minus the register at
  its start. A boundary that falls between two readings takes the value on the straight
  line between them (linear in time); one that falls before the first or after the last
  reading is extrapolated along the line through the two nearest readings, at most
  `MAX_EXTRAPOLATION` away, and the result says so. Anything further is "insufficient":
  the caller bills by the average (`average_monthly`) or the norm instead.
- Only counting points are used. A point lower than the latest counting point before it
  (backwards) counts for nothing until staff review it: verdict "rollover" means the
  register wrapped past its last digit, so 10**digits is added to it and to everything
  after it; verdict "replacement" means a new register was fitted, so a new series starts
  at it; verdict "error" keeps it excluded for good. Excluded points are listed in the
  result so that staff can see why a figure is what it is.
- Between two series (a register replaced) the consumption between the old register's
  last reading and the new one's first is not known and is not counted.
- Across a meter replacement (`chain_consumption`) each meter counts its own part of the
  period: from its installation (initial value) to its removal (final value). Time before
  the first meter's installation or between one meter's removal and the next one's
  installation is not metered; the result's boundaries say where metering began and ended.
- Arithmetic is Decimal throughout; the quantity is rounded to 3 decimals, half up, once,
  at the end (boundary values are given exact).
"""

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Context, Decimal, localcontext
from typing import Literal
from zoneinfo import ZoneInfo

from housing.settings import CITY_TIMEZONE
from sensors.points import EffectivePoint

MAX_EXTRAPOLATION = timedelta(days=31)
QUANTITY = Decimal("0.001")
DEFAULT_TIMEZONE = CITY_TIMEZONE  # callers pass HOUSING_TIMEZONE

How = Literal["metered", "insufficient"]
BoundaryHow = Literal["read", "interpolated", "extrapolated"]
_ARITHMETIC = Context(prec=34)
_US = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Boundary:
    """The register value used at one end of a period.

    `at` is the period boundary, except where metering begins or ends inside the period
    (a meter installed or removed, a register replaced): then it is that instant. `value`
    is on the counting scale, i.e. with 10**digits added for each confirmed rollover.
    """

    at: datetime
    value: Decimal
    how: BoundaryHow


@dataclass(frozen=True, slots=True)
class ConsumptionResult:
    """What a period consumed, and how that was worked out.

    `quantity` is None when `how` is "insufficient" (with `reason` saying why), so that it
    cannot be billed by mistake. `parts` holds each meter's share across a replacement.
    """

    how: How
    quantity: Decimal | None
    start: Boundary | None
    end: Boundary | None
    excluded: tuple[EffectivePoint, ...] = ()
    reason: str = ""
    parts: tuple["ConsumptionResult", ...] = ()
    exact: Decimal | None = field(default=None, repr=False, compare=False)
    meter_id: int | None = None  # the meter of a part
    readings: int = 0  # counting points taken within the period (start included, end not)

    @property
    def extrapolated(self) -> bool:
        """Whether any boundary (of any part) had to be extrapolated."""
        own = any(b is not None and b.how == "extrapolated" for b in (self.start, self.end))
        return own or any(part.extrapolated for part in self.parts)


@dataclass(frozen=True, slots=True)
class MeterSegment:
    """One meter of a replacement series: its points and the values it was fitted and removed with."""

    points: Sequence[EffectivePoint]
    installed_at: datetime
    initial_value: Decimal
    removed_at: datetime | None = None
    final_value: Decimal | None = None
    digits: int | None = None
    meter_id: int | None = None


@dataclass(slots=True)
class _Series:
    """One register's counting points, values on one (unwrapped) scale, rising."""

    times: list[datetime] = field(default_factory=list)
    values: list[Decimal] = field(default_factory=list)


def consumption(
    points: Sequence[EffectivePoint],
    start: datetime,
    end: datetime,
    *,
    digits: int | None = None,
    max_extrapolation: timedelta = MAX_EXTRAPOLATION,
) -> ConsumptionResult:
    """One meter's consumption from `start` to `end` (aware datetimes, start < end).

    `digits` is the register's number of whole digits, used for a confirmed rollover; when
    it is unknown the wrap is taken as the smallest power of ten above the value before it.
    """
    _check_period(start, end)
    with localcontext(_ARITHMETIC):
        return _rounded(_consumption(points, start, end, digits, max_extrapolation))


def chain_consumption(
    segments: Sequence[MeterSegment],
    start: datetime,
    end: datetime,
    *,
    max_extrapolation: timedelta = MAX_EXTRAPOLATION,
) -> ConsumptionResult:
    """Consumption across a meter replacement: the sum of each meter's part of the period.

    Each meter's initial value (at `installed_at`) and final value (at `removed_at`) are
    points of its series; its readings outside that window are ignored. The initial value
    is used only when no counting reading is at or before the start of the meter's part
    (readings loaded from the middle of a long history may follow a rollover the initial
    value knows nothing of). A meter removed without a final value is extrapolated to its
    removal like any period end.
    """
    _check_period(start, end)
    with localcontext(_ARITHMETIC):
        return _rounded(_chain(segments, start, end, max_extrapolation))


def average_monthly(
    points: Sequence[EffectivePoint],
    before: date,
    months: int = 12,
    min_months: int = 3,
    *,
    digits: int | None = None,
    timezone: str = DEFAULT_TIMEZONE,
) -> Decimal | None:
    """The meter's average consumption per calendar month, for billing months without readings.

    Looks at the `months` whole calendar months (in `timezone`) before the month of
    `before`. A month counts when both its ends are read or interpolated (never
    extrapolated) and at least one reading was taken in it (a month merely spanned by
    two distant readings is not history); the average is over the months that count,
    None when fewer than `min_months` do. Rounded to 3 decimals, half up.
    """
    return _average(
        lambda s, e: _consumption(points, s, e, digits, MAX_EXTRAPOLATION),
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
) -> Decimal | None:
    """`average_monthly` across a replacement series: a month may be shared by two meters.

    A month counts only when it is metered from its first to its last instant.
    """
    return _average(
        lambda s, e: _chain(segments, s, e, MAX_EXTRAPOLATION), before, months, min_months, timezone
    )


# The series


def _check_period(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware")
    if end <= start:
        raise ValueError(f"the period must end after it starts ({start.isoformat()} .. {end.isoformat()})")


def _counts(point: EffectivePoint) -> bool:
    if point.verdict == "error":
        return False
    return not point.backwards or point.verdict in ("rollover", "replacement")


def _wrap(digits: int | None, last_raw: Decimal) -> Decimal:
    if digits is not None:
        return Decimal(10) ** digits
    return Decimal(10) ** len(str(int(last_raw)))


def _series(
    points: Sequence[EffectivePoint], digits: int | None
) -> tuple[list[_Series], list[EffectivePoint]]:
    """Splits the counting points into series and collects the excluded ones."""
    series: list[_Series] = []
    excluded: list[EffectivePoint] = []
    current: _Series | None = None
    offset = Decimal(0)
    for point in sorted(points, key=lambda p: p.taken_at):
        if not _counts(point):
            excluded.append(point)
            continue
        if point.verdict == "replacement" or current is None:
            current, offset = _Series(), Decimal(0)
            series.append(current)
        else:
            last = current.values[-1]
            lower = point.value + offset < last
            if lower and point.verdict == "rollover":
                offset += _wrap(digits, last - offset)
            elif lower:
                excluded.append(point)
                continue
        current.times.append(point.taken_at)
        current.values.append(point.value + offset)
    return series, excluded


def _lerp(t0: datetime, v0: Decimal, t1: datetime, v1: Decimal, t: datetime) -> Decimal:
    return v0 + (v1 - v0) * Decimal((t - t0) // _US) / Decimal((t1 - t0) // _US)


def _inside(series: _Series, t: datetime) -> Boundary:
    """The value at `t`, which lies within the series' first and last point."""
    i = bisect_left(series.times, t)
    if series.times[i] == t:
        return Boundary(t, series.values[i], "read")
    t0, t1 = series.times[i - 1], series.times[i]
    return Boundary(t, _lerp(t0, series.values[i - 1], t1, series.values[i], t), "interpolated")


def _extrapolate(series: _Series, t: datetime, limit: timedelta) -> Boundary | str:
    when = t.isoformat()
    if len(series.times) < 2:
        return f"only one reading to extrapolate from to {when}"
    if t < series.times[0]:
        (t0, t1), (v0, v1), distance = series.times[:2], series.values[:2], series.times[0] - t
    else:
        (t0, t1), (v0, v1), distance = series.times[-2:], series.values[-2:], t - series.times[-1]
    if distance > limit:
        return f"no reading within {limit.days} days of {when}"
    return Boundary(t, _lerp(t0, v0, t1, v1, t), "extrapolated")


def _start_boundary(series: list[_Series], t: datetime, limit: timedelta) -> tuple[int, Boundary | str]:
    lasts = [s.times[-1] for s in series]
    k = bisect_left(lasts, t)  # the first series still running at t
    if k == len(series):
        return k - 1, _extrapolate(series[-1], t, limit)
    if t >= series[k].times[0]:
        return k, _inside(series[k], t)
    if k == 0:
        return k, _extrapolate(series[0], t, limit)
    return k, Boundary(series[k].times[0], series[k].values[0], "read")  # a new register began after t


def _end_boundary(series: list[_Series], t: datetime, limit: timedelta) -> tuple[int, Boundary | str]:
    firsts = [s.times[0] for s in series]
    k = bisect_right(firsts, t) - 1  # the last series begun by t
    if k < 0:
        return 0, _extrapolate(series[0], t, limit)
    if t <= series[k].times[-1]:
        return k, _inside(series[k], t)
    if k == len(series) - 1:
        return k, _extrapolate(series[k], t, limit)
    return k, Boundary(series[k].times[-1], series[k].values[-1], "read")  # the register ended before t


def _consumption(
    points: Sequence[EffectivePoint],
    start: datetime,
    end: datetime,
    digits: int | None,
    limit: timedelta,
) -> ConsumptionResult:
    series, excluded_list = _series(points, digits)
    excluded = tuple(excluded_list)
    if not series:
        return ConsumptionResult("insufficient", None, None, None, excluded, "no reading that counts")
    i, first = _start_boundary(series, start, limit)
    j, last = _end_boundary(series, end, limit)
    problems = [b for b in (first, last) if isinstance(b, str)]
    first_b = first if isinstance(first, Boundary) else None
    last_b = last if isinstance(last, Boundary) else None
    if problems:
        return ConsumptionResult("insufficient", None, first_b, last_b, excluded, "; ".join(problems))
    if j < i:
        reason = "the period falls between two registers' readings"
        return ConsumptionResult("insufficient", None, first_b, last_b, excluded, reason)
    if i == j:
        exact = last_b.value - first_b.value
    else:
        exact = (series[i].values[-1] - first_b.value) + (last_b.value - series[j].values[0])
        exact += sum((s.values[-1] - s.values[0] for s in series[i + 1 : j]), Decimal(0))
    inside = sum(bisect_left(s.times, end) - bisect_left(s.times, start) for s in series)
    return ConsumptionResult("metered", exact, first_b, last_b, excluded, exact=exact, readings=inside)


def _chain(
    segments: Sequence[MeterSegment], start: datetime, end: datetime, limit: timedelta
) -> ConsumptionResult:
    parts: list[ConsumptionResult] = []
    for segment in sorted(segments, key=lambda s: s.installed_at):
        removed = segment.removed_at
        lo = max(start, segment.installed_at)
        hi = end if removed is None else min(end, removed)
        if lo >= hi:
            continue
        points = [
            p
            for p in segment.points
            if p.taken_at > segment.installed_at and (removed is None or p.taken_at < removed)
        ]
        if not any(_counts(p) and p.taken_at <= lo for p in points):
            points.insert(
                0, EffectivePoint(segment.installed_at, segment.initial_value, "initial", False, None)
            )
        if removed is not None and segment.final_value is not None:
            points.append(EffectivePoint(removed, segment.final_value, "final", False, None))
        part = _consumption(points, lo, hi, segment.digits, limit)
        parts.append(_copy(part, part.quantity, part.parts, segment.meter_id))
    if not parts:
        return ConsumptionResult("insufficient", None, None, None, (), "no meter was installed in the period")
    excluded = tuple(p for part in parts for p in part.excluded)
    first, last = parts[0].start, parts[-1].end
    short = [part.reason for part in parts if part.how == "insufficient"]
    if short:
        return ConsumptionResult("insufficient", None, first, last, excluded, "; ".join(short), tuple(parts))
    exact = sum((part.exact for part in parts), Decimal(0))
    readings = sum(part.readings for part in parts)
    return ConsumptionResult(
        "metered", exact, first, last, excluded, "", tuple(parts), exact, readings=readings
    )


def _rounded(result: ConsumptionResult) -> ConsumptionResult:
    quantity = None if result.exact is None else result.exact.quantize(QUANTITY, rounding=ROUND_HALF_UP)
    return _copy(result, quantity, tuple(_rounded(part) for part in result.parts), result.meter_id)


def _copy(
    result: ConsumptionResult,
    quantity: Decimal | None,
    parts: tuple[ConsumptionResult, ...],
    meter_id: int | None,
) -> ConsumptionResult:
    """`dataclasses.replace` of these three fields, written out: it is called for every meter
    of a billing run, and `replace` looks the fields up each time."""
    return ConsumptionResult(
        how=result.how,
        quantity=quantity,
        start=result.start,
        end=result.end,
        excluded=result.excluded,
        reason=result.reason,
        parts=parts,
        exact=result.exact,
        meter_id=meter_id,
        readings=result.readings,
    )


# Averages


def _month_start(year: int, month: int, zone: ZoneInfo) -> datetime:
    year, month = year + (month - 1) // 12, (month - 1) % 12 + 1
    return datetime(year, month, 1, tzinfo=zone)


def _whole(result: ConsumptionResult, start: datetime, end: datetime) -> bool:
    """Metered from `start` to `end` without a gap, without extrapolating, read at least once."""
    if result.how != "metered" or result.extrapolated or result.readings == 0:
        return False
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
    with localcontext(_ARITHMETIC):
        for back in range(months, 0, -1):
            start = _month_start(before.year, before.month - back, zone)
            end = _month_start(before.year, before.month - back + 1, zone)
            result = measure(start, end)
            if _whole(result, start, end):
                quantities.append(result.exact)
        if len(quantities) < min_months:
            return None
        return (sum(quantities, Decimal(0)) / len(quantities)).quantize(QUANTITY, rounding=ROUND_HALF_UP)
