"""Consumption of a meter over a period: pure functions, no I/O.

Smart meters: the register at the period's end minus the register at its start, a
boundary interpolated between readings or extended from one side within a tolerance.
Manual meters: the period's latest reading minus the one before, shared over the months
it covers. Backwards readings, rollovers and replacements count as staff reviewed them.
The rules in full, with their cases: docs/consumption.md. The average month: averages.py.
"""

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, ROUND_UP, Context, Decimal, localcontext
from typing import Literal
from zoneinfo import ZoneInfo

from housing.settings import CITY_TIMEZONE
from sensors.usage.points import EffectivePoint

DEFAULT_TOLERANCE = timedelta(hours=24)  # settings: HOUSING_METERS__BOUNDARY_TOLERANCE_HOURS
QUANTITY = Decimal("0.001")
HOURS = Decimal("0.1")  # estimated hours are rounded up to this
DEFAULT_TIMEZONE = CITY_TIMEZONE  # callers pass HOUSING_TIMEZONE

How = Literal["metered", "insufficient"]
BoundaryHow = Literal["read", "interpolated", "extrapolated"]
ARITHMETIC = Context(prec=34)
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
    # Hours of the period between this boundary and the nearest reading inside it, when its
    # value is an estimate (extended from one side, or interpolated across a long silence).
    estimated_hours: Decimal | None = None


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
    manual: bool = False  # worked out by the manual meters' rule
    covers: int = 1  # manual: the months the two readings span; the quantity is one month's share

    @property
    def extrapolated(self) -> bool:
        """Whether any boundary (of any part) had to be extended from readings on one side."""
        own = any(b is not None and b.how == "extrapolated" for b in (self.start, self.end))
        return own or any(part.extrapolated for part in self.parts)

    @property
    def estimated_hours(self) -> Decimal | None:
        """Hours of the period at its ends whose consumption is estimated, None when none is."""
        hours = [
            b.estimated_hours
            for r in self.parts or (self,)  # a chain's own ends are its parts' first and last
            for b in (r.start, r.end)
            if b is not None and b.estimated_hours is not None
        ]
        return sum(hours, Decimal(0)) if hours else None


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
    sources: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class _Extend:
    """A boundary with readings on one side only: to be extended from reading `n` of series `k`."""

    k: int
    n: int
    t: datetime


Measure = Callable[[Sequence[EffectivePoint], datetime, datetime, int | None, timedelta], ConsumptionResult]


def consumption(
    points: Sequence[EffectivePoint],
    start: datetime,
    end: datetime,
    *,
    digits: int | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    manual: bool = False,
    timezone: str = DEFAULT_TIMEZONE,
) -> ConsumptionResult:
    """One meter's consumption from `start` to `end` (aware datetimes, start < end).

    `digits` is the register's number of whole digits, used for a confirmed rollover; when
    it is unknown the wrap is taken as the smallest power of ten above the value before it.
    `manual` applies the manual meters' rule (months counted in `timezone`).
    """
    _check_period(start, end)
    with localcontext(ARITHMETIC):
        return _rounded(rule_for(manual, timezone)(points, start, end, digits, tolerance))


def chain_consumption(
    segments: Sequence[MeterSegment],
    start: datetime,
    end: datetime,
    *,
    tolerance: timedelta = DEFAULT_TOLERANCE,
    manual: bool = False,
    timezone: str = DEFAULT_TIMEZONE,
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
    with localcontext(ARITHMETIC):
        return _rounded(chain_parts(segments, start, end, tolerance, rule_for(manual, timezone)))


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
        current.sources.append(point.source)
    return series, excluded


def _lerp(t0: datetime, v0: Decimal, t1: datetime, v1: Decimal, t: datetime) -> Decimal:
    return v0 + (v1 - v0) * Decimal((t - t0) // _US) / Decimal((t1 - t0) // _US)


def _hours(span: timedelta) -> Decimal:
    return (Decimal(span // _US) / Decimal(3_600_000_000)).quantize(HOURS, rounding=ROUND_UP)


def _inside(series: _Series, t: datetime, limit: timedelta, at_start: bool) -> Boundary:
    """The value at `t`, which lies within the series' first and last point.

    Interpolated across a silence longer than `limit`, it is an estimate: its hours are
    those between `t` and the reading on the period's side (after a start, before an end).
    """
    i = bisect_left(series.times, t)
    if series.times[i] == t:
        return Boundary(t, series.values[i], "read")
    t0, t1 = series.times[i - 1], series.times[i]
    value = _lerp(t0, series.values[i - 1], t1, series.values[i], t)
    hours = _hours(t1 - t if at_start else t - t0) if t1 - t0 > limit else None
    return Boundary(t, value, "interpolated", hours)


def _extend(
    series: list[_Series], pending: _Extend, other: "Boundary | _Extend | str", other_k: int, limit: timedelta
) -> Boundary | str:
    """The boundary extended from its nearest reading, within `limit` only.

    The rate is the mean one between that reading and the period's other end (its value,
    or its own nearest reading) when that is in the same series on the far side of the
    reading, else the slope to the
    next reading on the same side; either way it must span at least the stretch extended
    over, so that a short burst or an idle hour never stands for a whole day.
    """
    s, t = series[pending.k], pending.t
    t0, v0 = s.times[pending.n], s.values[pending.n]
    distance = abs(t - t0)
    when = t.isoformat()
    if distance > limit:
        return f"no reading within {_hours(limit).normalize():f} hours of {when}"
    after = t > t0  # extending forwards past the last reading
    anchor = None
    if isinstance(other, Boundary) and other_k == pending.k:
        anchor = (other.at, other.value)
    elif isinstance(other, _Extend) and other.k == pending.k:  # the other end's nearest reading
        anchor = (s.times[other.n], s.values[other.n])
    if anchor is not None and (anchor[0] < t0 if after else anchor[0] > t0):
        ta, va = anchor
    else:
        m = pending.n - 1 if after else pending.n + 1
        if not 0 <= m < len(s.times):
            return f"only one reading to extend from to {when}"
        ta, va = s.times[m], s.values[m]
    base = abs(t0 - ta)
    if base < distance:
        return (
            f"the readings next to {when} span {_hours(base).normalize():f} hours,"
            f" less than the {_hours(distance).normalize():f} hours to extend over"
        )
    return Boundary(t, _lerp(ta, va, t0, v0, t), "extrapolated", _hours(distance))


def _start_boundary(series: list[_Series], t: datetime, limit: timedelta) -> tuple[int, Boundary | _Extend]:
    lasts = [s.times[-1] for s in series]
    k = bisect_left(lasts, t)  # the first series still running at t
    if k == len(series):
        return k - 1, _Extend(k - 1, len(series[-1].times) - 1, t)
    if t >= series[k].times[0]:
        return k, _inside(series[k], t, limit, at_start=True)
    if k == 0:
        return k, _Extend(0, 0, t)
    return k, Boundary(series[k].times[0], series[k].values[0], "read")  # a new register began after t


def _end_boundary(series: list[_Series], t: datetime, limit: timedelta) -> tuple[int, Boundary | _Extend]:
    firsts = [s.times[0] for s in series]
    k = bisect_right(firsts, t) - 1  # the last series begun by t
    if k < 0:
        return 0, _Extend(0, 0, t)
    if t <= series[k].times[-1]:
        return k, _inside(series[k], t, limit, at_start=False)
    if k == len(series) - 1:
        return k, _Extend(k, len(series[k].times) - 1, t)
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
    i, first_raw = _start_boundary(series, start, limit)
    j, last_raw = _end_boundary(series, end, limit)
    first = _extend(series, first_raw, last_raw, j, limit) if isinstance(first_raw, _Extend) else first_raw
    last = _extend(series, last_raw, first_raw, i, limit) if isinstance(last_raw, _Extend) else last_raw
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


def _month_index(at: datetime, zone: ZoneInfo) -> int:
    local = at.astimezone(zone)
    return local.year * 12 + local.month - 1


def _manual(
    points: Sequence[EffectivePoint],
    start: datetime,
    end: datetime,
    digits: int | None,
    zone: ZoneInfo,
) -> ConsumptionResult:
    """The manual meters' rule: the period's latest reading minus the one before (see the module)."""
    series, excluded_list = _series(points, digits)
    excluded = tuple(excluded_list)
    flat = [
        (t, v, src, k)
        for k, s in enumerate(series)
        for t, v, src in zip(s.times, s.values, s.sources, strict=True)
    ]
    # A final value stands at the removal, which is the end of the meter's part of the period.
    inside = [p for p in flat if start <= p[0] < end or (p[0] == end and p[2] == "final")]
    before = [p for p in flat if p[0] < start]
    later = [p for p in flat if p[0] >= end and p not in inside]
    if inside:
        reading = inside[-1]
    elif later and before:  # hindsight: the month lies in the span of a later reading
        reading = later[0]
    else:
        when = start.astimezone(zone).date().isoformat()
        return ConsumptionResult(
            "insufficient", None, None, None, excluded, f"no reading taken from {when}", manual=True
        )
    # The reading before: the latest before the period, else one fitted in it (an initial value).
    earlier = before or [p for p in inside if p[0] < reading[0]]
    if not earlier:
        return ConsumptionResult(
            "insufficient", None, None, None, excluded, "no earlier reading or initial value", manual=True
        )
    previous = earlier[-1]
    if previous[3] != reading[3]:
        reason = "a new register was fitted between the two readings"
        return ConsumptionResult("insufficient", None, None, None, excluded, reason, manual=True)
    covers = _month_index(reading[0], zone) - _month_index(previous[0], zone)
    if previous[2] == "initial":
        covers += 1  # the month it was fitted in is the first one it counts
    covers = max(covers, 1)
    exact = (reading[1] - previous[1]) / covers
    first = Boundary(previous[0], previous[1], "read")
    last = Boundary(reading[0], reading[1], "read")
    return ConsumptionResult(
        "metered", exact, first, last, excluded, exact=exact, readings=len(inside), manual=True, covers=covers
    )


def rule_for(manual: bool, timezone: str) -> Measure:
    if not manual:
        return _consumption
    zone = ZoneInfo(timezone)

    def measure(points, start, end, digits, limit):
        return _manual(points, start, end, digits, zone)

    return measure


def chain_parts(
    segments: Sequence[MeterSegment], start: datetime, end: datetime, limit: timedelta, measure: Measure
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
        part = measure(points, lo, hi, segment.digits, limit)
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
        "metered",
        exact,
        first,
        last,
        excluded,
        "",
        tuple(parts),
        exact,
        readings=readings,
        manual=parts[0].manual,
        covers=max(part.covers for part in parts),
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
        manual=result.manual,
        covers=result.covers,
    )
