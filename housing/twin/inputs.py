"""The inputs of every grade component for a batch of buildings, in a few grouped queries.

For a grading day and the moment of grading (`now`, at most the end of that day), over the
window of `settings.twin.grade_window_days` local days ending on the grading day:

- incident hours per apartment: the hours of every unplanned service incident (sensor or
  reported; a planned outage was announced ahead) that overlaps the window, clipped to it
  (an open one counts up to `now`), times the apartments it hit: a building-wide incident
  counts for every apartment of the building, an apartment's own incident (a cold flat) for
  that apartment alone; divided by the building's apartments. The same rule as the quality
  score's `incident_hours` (housing.scores.inputs), for one building instead of a company.
- overdue requests: open requests past their deadline now (`facts.overdue_requests`).
- rating: the residents' mean rating of the building's requests rated in the window, with
  how many were rated; none rated: no sample.
- meter coverage: the share of apartments with at least one smart meter in service on the
  grading day and no open stale alert on any of their meters (a silent meter does not
  cover its flat).
- debt share: the share of apartments that owe money past due (`facts.debts_past_due`).
- report on time: the building's quarterly money report for the last quarter whose outcome
  is known (housing.building_money.deadlines: published, or its due day passed): on time 1,
  published late 0.5, missing 0; no report due yet: no sample.

A building with no apartments has no sample for the per-apartment components.
"""

from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, or_, select
from sqlmodel import Session, col

from housing import clock
from housing.building_money.deadlines import ReportDeadlines, ReportState, deadline_rows
from housing.building_money.rules import Quarter
from housing.incidents.models import IncidentSource, ServiceIncident
from housing.registry.models import Apartment, BuildingManagement
from housing.requests.models import ServiceRequest
from housing.scores.sqltime import epoch, greatest, least
from housing.settings import Settings
from housing.twin import facts
from housing.twin.grading import (
    DEBT_SHARE,
    INCIDENT_HOURS,
    METER_COVERAGE,
    OVERDUE_REQUESTS,
    RATING,
    REPORT_ON_TIME,
)
from sensors.models import Alert, AlertKind, Meter

REPORT_VALUE = {
    ReportState.published_on_time: 1.0,
    ReportState.published_late: 0.5,
    ReportState.late: 0.0,
}


@dataclass(frozen=True, slots=True)
class Window:
    """The grading window: local days `first`..`day`, as UTC moments [starts, ends)."""

    first: date
    day: date
    starts: datetime
    ends: datetime  # the end of the grading day, or `now` when that is earlier

    @classmethod
    def ending_on(cls, day: date, now: datetime, days: int, timezone: str) -> "Window":
        first = day - timedelta(days=days - 1)
        end_of_day = clock.local_midnight(day + timedelta(days=1), timezone)
        return cls(first, day, clock.local_midnight(first, timezone), min(now, end_of_day))


Measured = dict[str, tuple[float | None, dict[str, Any]]]  # component -> (value, its inputs)


def grade_inputs(
    session: Session, building_ids: Collection[int], *, day: date, now: datetime, settings: Settings
) -> dict[int, Measured]:
    """building id -> each component's value and inputs (grading.COMPONENTS order)."""
    ids = sorted(set(building_ids))
    if not ids:
        return {}
    window = Window.ending_on(day, now, settings.twin.grade_window_days, settings.timezone)
    flats = _apartments(session, ids)
    apartments = Counter(flats.values())
    hours, incidents = _apartment_hours(session, ids, window)
    overdue = facts.overdue_requests(session, now, ids)
    ratings = _ratings(session, ids, window)
    covered = _covered(session, ids, day)
    debtors = Counter(flats[a] for a in facts.debts_past_due(session, day, ids) if a in flats)
    reports = _reports(session, ids, day, ReportDeadlines.of(settings.money, settings.timezone))
    found: dict[int, Measured] = {}
    for building_id in ids:
        n = apartments[building_id]
        rating = ratings.get(building_id)
        report = reports.get(building_id)
        found[building_id] = {
            INCIDENT_HOURS: (
                _share(hours.get(building_id, 0.0), n, 2),
                {
                    "apartment_hours": round(hours.get(building_id, 0.0), 2),
                    "apartments": n,
                    "incidents": incidents.get(building_id, 0),
                    "from": window.first.isoformat(),
                    "through": window.day.isoformat(),
                },
            ),
            OVERDUE_REQUESTS: (float(overdue.get(building_id, 0)), {"overdue": overdue.get(building_id, 0)}),
            RATING: (
                round(rating[0], 2) if rating else None,
                {
                    "rated": rating[1] if rating else 0,
                    "from": window.first.isoformat(),
                    "through": window.day.isoformat(),
                },
            ),
            METER_COVERAGE: (
                _share(covered.get(building_id, 0), n, 4),
                {"covered": covered.get(building_id, 0), "apartments": n},
            ),
            DEBT_SHARE: (
                _share(debtors.get(building_id, 0), n, 4),
                {"debtors": debtors.get(building_id, 0), "apartments": n},
            ),
            REPORT_ON_TIME: (
                REPORT_VALUE[report[1]] if report else None,
                {"quarter": str(report[0]), "state": report[1].value} if report else {},
            ),
        }
    return found


def _share(part: float, whole: int, digits: int) -> float | None:
    return None if whole == 0 else round(part / whole, digits)


def _apartments(session: Session, ids: list[int]) -> dict[int, int]:
    """apartment id -> building id, for every apartment of the buildings."""
    query = select(Apartment.id, Apartment.building_id).where(col(Apartment.building_id).in_(ids))
    return {key: value for key, value in session.execute(query)}


def _apartment_hours(
    session: Session, ids: list[int], window: Window
) -> tuple[dict[int, float], dict[int, int]]:
    """building id -> apartment-hours of unplanned incidents in the window, and how many incidents."""
    i = ServiceIncident
    apartments = (
        select(Apartment.building_id, func.count().label("apartments"))
        .where(col(Apartment.building_id).in_(ids))
        .group_by(Apartment.building_id)
        .subquery("building_apartments")
    )
    starts_s, ends_s = window.starts.timestamp(), window.ends.timestamp()
    lo = greatest(epoch(i.started_at), starts_s)
    hi = least(func.coalesce(epoch(i.ended_at), ends_s), ends_s)
    hours = greatest(hi - lo, 0.0) / 3600.0
    hit = case((col(i.apartment_id).is_not(None), 1), else_=func.coalesce(apartments.c.apartments, 0))
    query = (
        select(i.building_id, func.sum(hours * hit), func.count())
        .outerjoin(apartments, apartments.c.building_id == i.building_id)
        .where(
            col(i.building_id).in_(ids),
            i.source != IncidentSource.planned,
            i.started_at < window.ends,
            or_(col(i.ended_at).is_(None), i.ended_at > window.starts),
        )
        .group_by(i.building_id)
    )
    sums, counts = {}, {}
    for building_id, total, count in session.execute(query):
        sums[building_id], counts[building_id] = float(total or 0), int(count)
    return sums, counts


def _ratings(session: Session, ids: list[int], window: Window) -> dict[int, tuple[float, int]]:
    """building id -> (mean rating, how many rated) of requests rated in the window."""
    r = ServiceRequest
    query = (
        select(r.building_id, func.avg(r.rating), func.count(r.rating))
        .where(
            col(r.building_id).in_(ids),
            col(r.rating).is_not(None),
            r.rated_at >= window.starts,
            r.rated_at < window.ends,
        )
        .group_by(r.building_id)
    )
    return {b: (float(mean), int(n)) for b, mean, n in session.execute(query) if n}


def _covered(session: Session, ids: list[int], day: date) -> dict[int, int]:
    """building id -> apartments with a smart meter in service and no open stale alert."""
    stale = (
        select(Meter.apartment_id)
        .join(Alert, Alert.meter_id == Meter.id)
        .where(
            col(Meter.building_id).in_(ids),
            col(Meter.apartment_id).is_not(None),
            col(Alert.closed_at).is_(None),
            Alert.kind == AlertKind.stale,
        )
    )
    query = (
        select(Meter.building_id, func.count(func.distinct(Meter.apartment_id)))
        .where(
            col(Meter.building_id).in_(ids),
            col(Meter.apartment_id).is_not(None),
            col(Meter.smart).is_(True),
            Meter.installed_on <= day,
            or_(col(Meter.removed_on).is_(None), col(Meter.removed_on) > day),
            col(Meter.apartment_id).not_in(stale),
        )
        .group_by(Meter.building_id)
    )
    return {key: value for key, value in session.execute(query)}


def _reports(
    session: Session, ids: list[int], day: date, deadlines: ReportDeadlines
) -> dict[int, tuple[Quarter, ReportState]]:
    """building id -> its latest quarter over whose report's outcome is known, and that outcome."""
    # A quarter's due day is `due_days` after it ends: only the last few quarters can be
    # the latest known one.
    quarters = deadlines.quarters_over(day)[-(deadlines.due_days // 89 + 2) :]
    if not quarters:
        return {}
    rows = deadline_rows(quarters, deadlines.due_days, day).where(
        col(BuildingManagement.building_id).in_(ids)
    )
    rows = rows.subquery("due_report")
    query = select(rows.c.building_id, rows.c.year, rows.c.quarter, rows.c.state).where(
        rows.c.state != ReportState.not_yet_due.value
    )
    latest: dict[int, tuple[Quarter, ReportState]] = {}
    for building_id, year, number, state in session.execute(query):
        quarter = Quarter(year, number)
        if building_id not in latest or quarter > latest[building_id][0]:
            latest[building_id] = (quarter, ReportState(state))
    return latest
