"""The consumption of many meters over one period, with a few queries for all of them.

For billing runs: one query per batch loads only the counting readings next to the
period's ends and the pure rules in `consumption.py` work from those; whatever that
cannot answer exactly goes to `series.meter_consumption`. Why this gives the same answer:
docs/consumption.md, "Many meters at once".
"""

from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Row, and_, func, or_, select
from sqlmodel import Session

from housing.db import among
from sensors.models import Meter, Reading, ReadingCorrection, ReadingReview
from sensors.usage.consumption import (
    DEFAULT_TIMEZONE,
    DEFAULT_TOLERANCE,
    ConsumptionResult,
    MeterSegment,
    chain_consumption,
)
from sensors.usage.points import EffectivePoint
from sensors.usage.series import meter_consumption

_AROUND = 2  # counting readings kept on each side of each end: enough to extend an end


def period_consumption(
    session: Session,
    meter_ids: Iterable[int],
    start: datetime,
    end: datetime,
    *,
    timezone: str = DEFAULT_TIMEZONE,
    replaced: dict[int, int] | None = None,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> dict[int, ConsumptionResult]:
    """meter id -> its replacement series' consumption from `start` to `end`, as `meter_consumption`.

    `replaced` is `replacements(session)`, loaded here when not given; a caller asking
    batch after batch loads it once. A meter not `smart` goes by the manual meters' rule.
    """
    wanted = sorted(set(meter_ids))
    if not wanted:
        return {}
    previous = replacements(session) if replaced is None else replaced
    meters = _with_series(session, wanted, previous)
    chains = {meter_id: _series_of(meters, previous, meter_id) for meter_id in wanted}
    zone = ZoneInfo(timezone)
    fussy = _corrected_or_reviewed(session, list(meters))
    simple: dict[int, list[MeterSegment]] = {}
    for meter_id, chain in chains.items():
        segments = [_segment(meters, chain, position, zone) for position in range(len(chain))]
        overlapping = [s for s in segments if _overlaps(s, start, end)]
        if all(s.meter_id not in fussy and _spans(s, start, end) for s in overlapping):
            simple[meter_id] = segments
    points, backwards = _points_near(
        session, sorted({s.meter_id for v in simple.values() for s in v}), start, end
    )
    results: dict[int, ConsumptionResult] = {}
    for meter_id in wanted:
        segments = simple.get(meter_id)
        if segments is not None and not any(s.meter_id in backwards for s in segments):
            loaded = [_with_points(s, points.get(s.meter_id, ())) for s in segments]
            manual = not meters[meter_id].smart
            result = chain_consumption(
                loaded, start, end, tolerance=tolerance, manual=manual, timezone=timezone
            )
            if not result.excluded:
                results[meter_id] = result
                continue
        results[meter_id] = meter_consumption(
            session, meter_id, start, end, timezone=timezone, tolerance=tolerance
        )
    return results


# The meters and their replacement series


def replacements(session: Session) -> dict[int, int]:
    """meter id -> the meter it replaced, for every meter that replaced one.

    Replacements are few, and `replaced_by_id` has no index: one pass per run finds them
    all, where a lookup per batch would read the whole meter table each time.
    """
    rows = session.execute(select(Meter.replaced_by_id, Meter.id).where(Meter.replaced_by_id.is_not(None)))
    return {successor: meter_id for successor, meter_id in rows}


def _with_series(session: Session, meter_ids: list[int], previous: dict[int, int]) -> dict[int, Row[Any]]:
    """The meters and every meter they replaced or were replaced by, by id."""
    columns = (
        Meter.id,
        Meter.installed_on,
        Meter.removed_on,
        Meter.initial_value,
        Meter.final_value,
        Meter.digits,
        Meter.replaced_by_id,
        Meter.smart,
    )
    found: dict[int, Row[Any]] = {}
    frontier = meter_ids
    while frontier:
        rows = session.execute(select(*columns).where(among(session, Meter.id, frontier))).all()
        found.update((row.id, row) for row in rows)
        frontier = sorted(
            {previous[row.id] for row in rows if row.id in previous and previous[row.id] not in found}
            | {row.replaced_by_id for row in rows if row.replaced_by_id and row.replaced_by_id not in found}
        )
    return found


def _series_of(meters: dict[int, Row[Any]], previous: dict[int, int], meter_id: int) -> list[int]:
    """The ids of `meter_id`'s replacement series, oldest first (as `replacement_chain`).

    `previous` maps a meter to the one it replaced.
    """
    seen, older, current = {meter_id}, [], meter_id
    while (before := previous.get(current)) is not None and before not in seen:
        seen.add(before)
        older.append(before)
        current = before
    newer, following = [], meters[meter_id].replaced_by_id
    while following is not None and following not in seen and following in meters:
        seen.add(following)
        newer.append(following)
        following = meters[following].replaced_by_id
    return [*reversed(older), meter_id, *newer]


def _segment(meters: dict[int, Row[Any]], chain: list[int], position: int, zone: ZoneInfo) -> MeterSegment:
    """The series' meter at `position`, without points, as `sensors.usage.series` builds it."""
    meter = meters[chain[position]]
    removed_on = meter.removed_on
    if removed_on is None and position + 1 < len(chain):  # replaced without a removal date
        removed_on = meters[chain[position + 1]].installed_on
    removed_at = datetime.combine(removed_on, time(), zone) if removed_on else None
    return MeterSegment(
        points=(),
        installed_at=datetime.combine(meter.installed_on, time(), zone),
        initial_value=meter.initial_value,
        removed_at=removed_at,
        final_value=meter.final_value if removed_at else None,
        digits=meter.digits,
        meter_id=meter.id,
    )


def _overlaps(segment: MeterSegment, start: datetime, end: datetime) -> bool:
    return segment.installed_at < end and (segment.removed_at is None or segment.removed_at > start)


def _spans(segment: MeterSegment, start: datetime, end: datetime) -> bool:
    """Installed by the period's start and not removed before its end."""
    return segment.installed_at <= start and (segment.removed_at is None or segment.removed_at >= end)


def _with_points(segment: MeterSegment, points: Sequence[EffectivePoint]) -> MeterSegment:
    return MeterSegment(
        points=points,
        installed_at=segment.installed_at,
        initial_value=segment.initial_value,
        removed_at=segment.removed_at,
        final_value=segment.final_value,
        digits=segment.digits,
        meter_id=segment.meter_id,
    )


def _corrected_or_reviewed(session: Session, meter_ids: list[int]) -> set[int]:
    if not meter_ids:
        return set()
    corrected = session.execute(
        select(ReadingCorrection.meter_id)
        .where(among(session, ReadingCorrection.meter_id, meter_ids))
        .distinct()
    ).scalars()
    reviewed = session.execute(
        select(ReadingReview.meter_id).where(among(session, ReadingReview.meter_id, meter_ids)).distinct()
    ).scalars()
    return set(corrected) | set(reviewed)


# The readings next to the period's ends


def _points_near(
    session: Session, meter_ids: list[int], start: datetime, end: datetime
) -> tuple[dict[int, list[EffectivePoint]], set[int]]:
    """The readings next to `start` and `end`, `_AROUND` on each side, by meter; and the meters
    where one of them went backwards (below a reading before it), which need the whole history.

    When none of a meter's nearest readings went backwards they are its nearest counting
    readings too. Every window function shares one window (lead and lag ignore its frame),
    so PostgreSQL reads the readings in index order and works them out in one pass: a
    reading is among the `_AROUND` before an end when the `_AROUND`th after it is at or past
    the end (or missing), and among the `_AROUND` from an end when the `_AROUND`th before it
    is before the end (or missing).
    """
    if not meter_ids:
        return {}, set()
    window = {"partition_by": Reading.meter_id, "order_by": Reading.taken_at, "rows": (None, -1)}
    numbered = (
        select(
            Reading.meter_id,
            Reading.taken_at,
            Reading.value,
            Reading.source,
            (Reading.value < func.max(Reading.value).over(**window)).label("backwards"),
            func.lead(Reading.taken_at, _AROUND).over(**window).label("ahead"),
            func.lag(Reading.taken_at, _AROUND).over(**window).label("behind"),
        )
        .where(among(session, Reading.meter_id, meter_ids))
        .subquery()
    )
    at, ahead, behind = numbered.c.taken_at, numbered.c.ahead, numbered.c.behind
    near = or_(
        *(
            condition
            for edge in (start, end)
            for condition in (
                and_(at < edge, or_(ahead.is_(None), ahead >= edge)),
                and_(at >= edge, or_(behind.is_(None), behind < edge)),
            )
        )
    )
    rows = session.execute(
        select(
            numbered.c.meter_id,
            numbered.c.taken_at,
            numbered.c.value,
            numbered.c.source,
            numbered.c.backwards,
        )
        .where(near)
        .order_by(numbered.c.meter_id, numbered.c.taken_at)
    )
    found: dict[int, list[EffectivePoint]] = defaultdict(list)
    backwards: set[int] = set()
    for meter_id, taken_at, value, source, went_back in rows:
        found[meter_id].append(EffectivePoint(taken_at, value, str(source), False, None))
        if went_back:
            backwards.add(meter_id)
    return found, backwards
