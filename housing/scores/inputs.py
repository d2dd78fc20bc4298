"""The raw inputs of every component, counted in SQL per company and month.

Set-based: one GROUP BY over service requests for all five request components, one over
management periods for the apartments managed, one over incidents for the hours without
service; one over the buildings' quarterly money reports due in the month; each covers every
company and every month asked for at once (the months are a small table joined by range).
The same SQL runs on PostgreSQL and SQLite.

Which company a fact belongs to:
- a request: the company that managed the building when it was filed (service_request.company_id);
- an apartment-month and an incident hour: the company managing the building at that
  moment, from the building's management history, clipped to the month.
- a quarterly report: the company that managed the building on the quarter's last day, in
  the month of its due day (housing.building_money.deadlines has the rule); it counts once its
  outcome is known: published (on time or not), or not published and its due day passed.
Open requests and ongoing incidents are counted up to `as_of`, the moment of computation.
"""

from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from sqlalchemy import CTE, Date, Float, and_, case, cast, func, literal, not_, or_, select, text, union_all
from sqlmodel import Session

from housing.building_money.deadlines import ReportDeadlines, ReportState, deadline_rows
from housing.building_money.rules import Quarter
from housing.clock import Month, add_months, local_day
from housing.db import UTCDateTime, is_postgres
from housing.incidents.models import IncidentSource, ServiceIncident
from housing.registry.models import Apartment, BuildingManagement
from housing.requests.lifecycle import OPEN
from housing.requests.models import ServiceRequest
from housing.scores.scoring import RESOLVE_HOURS_CAP, Tally
from housing.scores.sqltime import epoch, greatest, least

Tallies = dict[date, dict[int, dict[str, Tally]]]  # period -> company -> component -> inputs


def count_inputs(
    session: Session, months: Iterable[Month], *, as_of: datetime, deadlines: ReportDeadlines | None = None
) -> Tallies:
    """`deadlines`: the reports' rule from settings.money (its defaults when not given)."""
    months = list(months)
    _plan_for_these_months(session)
    table = _months_table(months)
    tallies: Tallies = {m.period: defaultdict(dict) for m in months}
    for row in session.execute(_requests_query(table, as_of)):
        _add_request_tallies(tallies[row.period][row.company_id], row)
    managed = _managed(table)
    for row in session.execute(_apartments_query(managed)):
        company = tallies[row.period][row.company_id]
        apartments = round(float(row.apartments or 0), 4)
        company["incident_hours"] = Tally(0.0, apartments, round(apartments))
    as_of_s = as_of.timestamp()
    for row in session.execute(_incidents_query(managed, as_of_s)):
        company = tallies[row.period][row.company_id]
        apartments = company["incident_hours"]
        company["incident_hours"] = Tally(
            round(float(row.apartment_hours or 0), 4), apartments.denominator, apartments.sample_size
        )
    _add_report_tallies(session, tallies, months, as_of, deadlines or ReportDeadlines.default())
    return {period: dict(companies) for period, companies in tallies.items()}


def _plan_for_these_months(session: Session) -> None:
    """psycopg prepares a statement run five times on a connection, and PostgreSQL may then
    switch to a generic plan that ignores the month's bounds: the benchmark's eleventh month
    took 70 s instead of 0.2 s. Plan every run for its own months (this transaction only)."""
    if is_postgres(session):
        session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))


def _months_table(months: list[Month]) -> CTE:
    """The months as rows: their UTC bounds as timestamps and as epoch seconds, and `shift`,
    how far the local calendar runs ahead of UTC (to turn a management date into a moment)."""
    rows = []
    for m in months:
        naive_midnight = datetime(m.period.year, m.period.month, 1, tzinfo=m.starts.tzinfo)
        rows.append(
            select(
                literal(m.period, Date).label("period"),
                literal(add_months(m.period, 1), Date).label("next_period"),
                literal(m.starts, UTCDateTime).label("starts"),
                literal(m.ends, UTCDateTime).label("ends"),
                cast(literal(m.starts.timestamp()), Float).label("start_s"),
                cast(literal(m.ends.timestamp()), Float).label("end_s"),
                cast(literal(naive_midnight.timestamp() - m.starts.timestamp()), Float).label("shift_s"),
            )
        )
    return (rows[0] if len(rows) == 1 else union_all(*rows)).cte("score_month")


def _count(condition: Any) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _requests_query(months: CTE, as_of: datetime) -> Any:
    r = ServiceRequest
    resolved = r.resolved_at.is_not(None)
    # Due: its outcome is known. Resolved, flagged overdue, or still open past its deadline.
    # A request rejected or deferred before its deadline was missed is neither met nor missed.
    due = or_(r.overdue, resolved, and_(r.status.in_([s.value for s in OPEN]), r.deadline_at <= as_of))
    met = and_(not_(r.overdue), resolved, r.resolved_at <= r.deadline_at)
    emergency = r.emergency
    hours = least((epoch(r.resolved_at) - epoch(r.created_at)) / 3600.0, RESOLVE_HOURS_CAP)
    ever_resolved = or_(resolved, r.reopen_count > 0)
    return (
        select(
            r.company_id,
            months.c.period,
            _count(and_(not_(emergency), due)).label("deadline_due"),
            _count(and_(not_(emergency), due, met)).label("deadline_met"),
            _count(and_(emergency, due)).label("emergency_due"),
            _count(and_(emergency, due, met)).label("emergency_met"),
            func.sum(case((resolved, hours), else_=0.0)).label("resolve_hours"),
            _count(resolved).label("resolved"),
            func.sum(r.rating).label("rating_sum"),
            func.count(r.rating).label("rated"),
            _count(ever_resolved).label("ever_resolved"),
            _count(r.reopen_count > 0).label("reopened"),
        )
        .join(months, and_(r.created_at >= months.c.starts, r.created_at < months.c.ends))
        .group_by(r.company_id, months.c.period)
    )


def _add_request_tallies(company: dict[str, Tally], row: Any) -> None:
    def tally(numerator: Any, denominator: Any) -> Tally:
        return Tally(float(numerator or 0), float(denominator or 0), int(denominator or 0))

    company["deadline_compliance"] = tally(row.deadline_met, row.deadline_due)
    company["time_to_resolve"] = Tally(
        round(float(row.resolve_hours or 0), 4), float(row.resolved or 0), int(row.resolved or 0)
    )
    company["emergency_response"] = tally(row.emergency_met, row.emergency_due)
    company["resident_satisfaction"] = tally(row.rating_sum, row.rated)
    company["reopen_rate"] = tally(row.reopened, row.ever_resolved)


def _managed(months: CTE) -> CTE:
    """Each management period clipped to each month it overlaps, in epoch seconds, with the
    building's apartments: who was responsible for which building when."""
    bm = BuildingManagement
    apartments = (
        select(Apartment.building_id, func.count().label("apartments"))
        .group_by(Apartment.building_id)
        .subquery("building_apartments")
    )
    managed_from = epoch(bm.valid_from) - months.c.shift_s
    managed_until = func.coalesce(epoch(bm.valid_until) - months.c.shift_s, months.c.end_s)
    return (
        select(
            bm.company_id,
            bm.building_id,
            months.c.period,
            months.c.starts,
            months.c.ends,
            (months.c.end_s - months.c.start_s).label("month_s"),
            greatest(months.c.start_s, managed_from).label("lo"),
            least(months.c.end_s, managed_until).label("hi"),
            func.coalesce(apartments.c.apartments, 0).label("apartments"),
        )
        .join(
            months,
            and_(
                bm.valid_from < months.c.next_period,
                or_(bm.valid_until.is_(None), bm.valid_until > months.c.period),
            ),
        )
        .outerjoin(apartments, apartments.c.building_id == bm.building_id)
        .cte("managed")
    )


def _apartments_query(managed: CTE) -> Any:
    """Apartment-months: a building managed for half the month counts half its apartments."""
    share = (managed.c.hi - managed.c.lo) / managed.c.month_s
    return select(
        managed.c.company_id, managed.c.period, func.sum(managed.c.apartments * share).label("apartments")
    ).group_by(managed.c.company_id, managed.c.period)


def _incidents_query(managed: CTE, as_of_s: float) -> Any:
    """Apartment-hours without a service: each unplanned incident's hours within the month and
    the management period, times the apartments it hit (one, or the whole building)."""
    i = ServiceIncident
    starts = greatest(epoch(i.started_at), managed.c.lo)
    ends = least(func.coalesce(epoch(i.ended_at), as_of_s), managed.c.hi, as_of_s)
    hours = greatest(ends - starts, 0.0) / 3600.0
    apartments = case((i.apartment_id.is_not(None), 1), else_=managed.c.apartments)
    return (
        select(managed.c.company_id, managed.c.period, func.sum(hours * apartments).label("apartment_hours"))
        .join(managed, managed.c.building_id == i.building_id)
        .where(
            # A planned outage was announced ahead (maintenance); only failures count.
            i.source != IncidentSource.planned.value,
            i.started_at < managed.c.ends,
            or_(i.ended_at.is_(None), i.ended_at > managed.c.starts),
        )
        .group_by(managed.c.company_id, managed.c.period)
    )


def _add_report_tallies(
    session: Session, tallies: Tallies, months: list[Month], as_of: datetime, deadlines: ReportDeadlines
) -> None:
    """reports_on_time: of the reports due in the month whose outcome is known, those published
    by their due day. A month with no report due anywhere has no sample (the component is left
    out of everyone's total that month)."""
    if not months:
        return
    today = local_day(as_of, deadlines.timezone)
    due_in: dict[Quarter, date] = {}
    for m in months:
        for quarter in deadlines.quarters_due_between(m.period, add_months(m.period, 1)):
            due_in[quarter] = m.period
    if not due_in:
        return
    rows = deadline_rows(sorted(due_in), deadlines.due_days, today).subquery()
    counted = rows.c.state != ReportState.not_yet_due.value
    query = select(
        rows.c.company_id,
        rows.c.year,
        rows.c.quarter,
        _count(counted).label("due"),
        _count(rows.c.state == ReportState.published_on_time.value).label("on_time"),
    ).group_by(rows.c.company_id, rows.c.year, rows.c.quarter)
    sums: dict[tuple[date, int], list[int]] = defaultdict(lambda: [0, 0])
    for row in session.execute(query):
        found = sums[(due_in[Quarter(row.year, row.quarter)], row.company_id)]
        found[0] += int(row.on_time or 0)
        found[1] += int(row.due or 0)
    for (period, company_id), (on_time, due) in sums.items():
        if due:
            tallies[period][company_id]["reports_on_time"] = Tally(float(on_time), float(due), due)
