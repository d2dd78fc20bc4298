"""When a condition sensor shows a service below the norm: pure decisions, no I/O.

Episodes below the limit that last a sustained hour become incidents; `reconcile` turns
them into actions against what is recorded, so a second run changes nothing. The rules:
docs/service-conditions.md.
"""

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

from housing.settings import CITY_TIMEZONE

DEFAULT_TIMEZONE = CITY_TIMEZONE  # callers pass HOUSING_TIMEZONE
DEVIATION = Decimal("0.01")

MonthDay = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Rule:
    limit: Decimal  # a measurement below this is a violation
    norm: Decimal  # the deviation is measured from this
    sustain: timedelta = timedelta(hours=1)
    max_gap: timedelta = timedelta(hours=2)
    season: tuple[MonthDay, MonthDay] | None = None  # only within these local days, both included
    timezone: str = DEFAULT_TIMEZONE

    def violated(self, taken_at: datetime, value: Decimal) -> bool:
        if self.season is not None and not in_season(
            taken_at.astimezone(ZoneInfo(self.timezone)).date(), self.season
        ):
            return False
        return value < self.limit


def hot_water_rule(min_c: float, allowed_deviation_c: float) -> Rule:
    norm = Decimal(str(min_c))
    return Rule(limit=norm - Decimal(str(allowed_deviation_c)), norm=norm)


def heating_rule(min_c: float, season: str, timezone: str = DEFAULT_TIMEZONE) -> Rule:
    norm = Decimal(str(min_c))
    return Rule(limit=norm, norm=norm, season=parse_season(season), timezone=timezone)


def parse_season(text: str) -> tuple[MonthDay, MonthDay]:
    """'10-15..04-15' -> ((10, 15), (4, 15)); raises ValueError on anything else."""
    try:
        first, last = text.split("..")
        parsed = tuple(tuple(int(part) for part in end.strip().split("-")) for end in (first, last))
        for month, day in parsed:
            date(2000, month, day)  # a leap year, so 02-29 is allowed
    except ValueError as exc:
        raise ValueError(f"a season is written MM-DD..MM-DD, e.g. 10-15..04-15, not {text!r}") from exc
    return parsed  # type: ignore[return-value]


def in_season(day: date, season: tuple[MonthDay, MonthDay]) -> bool:
    """Whether a day is in the season; a season may run across the new year."""
    first, last = season
    here = (day.month, day.day)
    if first <= last:
        return first <= here <= last
    return here >= first or here <= last


@dataclass(frozen=True, slots=True)
class Episode:
    start: datetime  # the first measurement below the limit
    end: datetime | None  # back at or above it (or the last one below before a silence); None: ongoing
    worst: Decimal  # the lowest value measured
    deviation: Decimal  # norm - worst, 2 decimals


def episodes(measurements: Sequence[tuple[datetime, Decimal]], rule: Rule, now: datetime) -> list[Episode]:
    """The sustained episodes below the limit, oldest first. `now` ends an ongoing one after a silence."""
    found: list[Episode] = []
    run: list[tuple[datetime, Decimal]] = []

    def finish(end: datetime | None) -> None:
        if run[-1][0] - run[0][0] >= rule.sustain:
            worst = min(value for _, value in run)
            deviation = (rule.norm - worst).quantize(DEVIATION, rounding=ROUND_HALF_UP)
            found.append(Episode(run[0][0], end, worst, deviation))
        run.clear()

    for taken_at, value in sorted(measurements):
        if run and taken_at - run[-1][0] > rule.max_gap:
            finish(run[-1][0])
        if rule.violated(taken_at, value):
            run.append((taken_at, value))
        elif run:
            finish(taken_at)
    if run:
        finish(run[-1][0] if now - run[-1][0] > rule.max_gap else None)
    return found


@dataclass(frozen=True, slots=True)
class Known:
    """An incident already recorded from this sensor."""

    id: int
    start: datetime
    end: datetime | None


@dataclass(frozen=True, slots=True)
class Action:
    """Open a new incident, deepen or close one; incident_id None means the one just opened."""

    kind: Literal["open", "deepen", "close"]
    at: datetime  # open: its start; close: its end; deepen: the episode's start
    incident_id: int | None = None
    deviation: Decimal | None = None
    worst: Decimal | None = None


def reconcile(
    measurements: Sequence[tuple[datetime, Decimal]], rule: Rule, known: Sequence[Known], now: datetime
) -> list[Action]:
    """What to record so that the incidents match the sustained episodes in `measurements`.

    An open incident continues into the next episode unless a good measurement came in
    between, which closes it there. An episode already covered by a closed incident (the
    same one, seen again on a later run) is left alone, and so is one that ended before the
    open incident began (there can be only one open incident per sensor and service).
    """
    ordered = sorted(measurements)
    good = [t for t, v in ordered if not rule.violated(t, v)]
    closed = [k for k in known if k.end is not None]
    current = next((k for k in known if k.end is None), None)
    current_id = current.id if current else None
    since = current.start if current else None
    actions: list[Action] = []

    def first_good(after: datetime, before: datetime | None = None) -> datetime | None:
        i = bisect_left(good, after)
        if i < len(good) and (before is None or good[i] < before):
            return good[i]
        return None

    for episode in episodes(ordered, rule, now):
        if since is not None:
            if episode.end is not None and episode.end < since:
                continue  # over before the open incident began: recorded then, or missed for good
            cleared = first_good(since, episode.start)
            if cleared is not None:
                actions.append(Action("close", cleared, current_id))
                since = None
            else:
                actions.append(Action("deepen", episode.start, current_id, episode.deviation, episode.worst))
                if episode.end is not None:
                    actions.append(Action("close", episode.end, current_id))
                    since = None
                else:
                    since = episode.start
                continue
        end = episode.end or now
        if any(k.start <= end and k.end >= episode.start for k in closed):
            continue
        actions.append(Action("open", episode.start, None, episode.deviation, episode.worst))
        if episode.end is not None:
            actions.append(Action("close", episode.end, None))
        else:
            current_id, since = None, episode.start
    if since is not None and (cleared := first_good(since)) is not None:
        actions.append(Action("close", cleared, current_id))
    return actions
