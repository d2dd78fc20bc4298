"""Which quarterly reports are due, city-wide, and whether each came in time.

For a day, every (building, quarter) from `settings.money.first_quarter` whose quarter is
over is due from the company that managed the building on the quarter's last day (the one
whose books the quarter closes, even if the building changed hands since). Its state:

- published on time: published by its due day (`Quarter.due_on`, the last day on time; the
  report keeps `on_time` as frozen when it was published);
- published late: published after it;
- late: not published, and the due day has passed;
- not yet due: not published, the quarter is over, the due day has not passed.

A building nobody managed on a quarter's last day owes no report on it. Quarters before
`first_quarter` are never due. One SQL statement for the whole city (the quarters are a
small table joined by range to the management history and left-joined to the reports); the
same statement feeds the officials' pages and the quality score's `reports_on_time` input.
"""

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any, Self

from sqlalchemy import CTE, Date, Integer, and_, case, func, literal, or_, select, union_all
from sqlmodel import Session

from housing import clock
from housing.building_money.models import BuildingReport
from housing.building_money.rules import Quarter, quarters_between
from housing.registry.models import Building, BuildingManagement, ManagementCompany
from housing.settings import CITY_TIMEZONE, MoneySettings


class ReportState(StrEnum):
    published_on_time = "published_on_time"
    published_late = "published_late"
    late = "late"
    not_yet_due = "not_yet_due"


@dataclass(frozen=True)
class ReportDeadlines:
    """The deadline rule as settings give it: days after a quarter's end, and the first quarter."""

    due_days: int
    first_quarter: Quarter
    timezone: str = (
        CITY_TIMEZONE  # the city's: a report published at 02:00 on 31 October was late on that local day
    )

    @classmethod
    def of(cls, money: MoneySettings, timezone: str = CITY_TIMEZONE) -> Self:
        """From `settings.money` and `settings.timezone`."""
        return cls(due_days=money.report_due_days, first_quarter=money.first_quarter, timezone=timezone)

    @classmethod
    def default(cls) -> Self:
        """The settings' defaults, for a caller that has no settings at hand."""
        return cls.of(MoneySettings())

    def quarters_over(self, today: date) -> list[Quarter]:
        """Every quarter from the first one that is over on `today`."""
        return quarters_between(self.first_quarter, Quarter.of(today).previous())

    def quarters_due_between(self, first_day: date, end: date) -> list[Quarter]:
        """The quarters (from the first one) whose due day falls in [first_day, end)."""
        quarter = max(self.first_quarter, Quarter.of(first_day - timedelta(days=self.due_days)))
        found = []
        while quarter.due_on(self.due_days) < end:
            if quarter.due_on(self.due_days) >= first_day:
                found.append(quarter)
            quarter = quarter.next()
        return found


def quarters_table(quarters: list[Quarter], due_days: int) -> CTE:
    """The quarters as rows: year, number, last day and due day."""
    rows = [
        select(
            literal(q.year, Integer).label("year"),
            literal(q.number, Integer).label("quarter"),
            literal(q.last_day, Date).label("last_day"),
            literal(q.due_on(due_days), Date).label("due_on"),
        )
        for q in quarters
    ]
    return (rows[0] if len(rows) == 1 else union_all(*rows)).cte("report_quarter")


def deadline_rows(quarters: list[Quarter], due_days: int, today: date) -> Any:
    """A select of every report due on these quarters (they must be over), with its state:
    building_id, company_id, district_id, year, quarter, due_on, report_id, published_at, state."""
    q = quarters_table(quarters, due_days)
    bm, report = BuildingManagement, BuildingReport
    state = case(
        (and_(report.id.is_not(None), report.on_time), ReportState.published_on_time.value),
        (report.id.is_not(None), ReportState.published_late.value),
        (q.c.due_on < literal(today, Date), ReportState.late.value),
        else_=ReportState.not_yet_due.value,
    ).label("state")
    return (
        select(
            bm.building_id,
            bm.company_id,
            Building.district_id,
            q.c.year,
            q.c.quarter,
            q.c.due_on,
            report.id.label("report_id"),
            report.published_at,
            state,
        )
        .select_from(q)
        .join(
            bm,
            and_(bm.valid_from <= q.c.last_day, or_(bm.valid_until.is_(None), bm.valid_until > q.c.last_day)),
        )
        .join(Building, Building.id == bm.building_id)
        .outerjoin(
            report,
            and_(
                report.building_id == bm.building_id, report.year == q.c.year, report.quarter == q.c.quarter
            ),
        )
    )


@dataclass(frozen=True)
class DueReport:
    building_id: int
    address: str
    district_id: int
    company_id: int
    company_name: str
    quarter: Quarter
    due_on: date
    state: ReportState
    days_late: int  # 0 unless late or published late; a late one counts up to today


@dataclass(frozen=True)
class CompanyDeadlines:
    company_id: int
    company_name: str
    due: int  # every report due on the quarters asked for (over), whatever its state
    published_on_time: int
    published_late: int
    late: int
    not_yet_due: int


def _filtered(
    deadlines: ReportDeadlines,
    today: date,
    quarter: Quarter | None,
    company_id: int | None,
    district_id: int | None,
) -> Any | None:
    """The due reports' rows as a subquery, or None when no quarter asked for is over."""
    quarters = deadlines.quarters_over(today)
    if quarter is not None:
        quarters = [q for q in quarters if q == quarter]
    if not quarters:
        return None
    rows = deadline_rows(quarters, deadlines.due_days, today)
    if company_id is not None:
        rows = rows.where(BuildingManagement.company_id == company_id)
    if district_id is not None:
        rows = rows.where(Building.district_id == district_id)
    return rows.subquery("due_report")


def by_company(
    session: Session,
    deadlines: ReportDeadlines,
    today: date,
    *,
    quarter: Quarter | None = None,
    company_id: int | None = None,
    district_id: int | None = None,
) -> list[CompanyDeadlines]:
    """Every company with a report due, counted by state; the most late first."""
    rows = _filtered(deadlines, today, quarter, company_id, district_id)
    if rows is None:
        return []

    def count(state: ReportState) -> Any:
        return func.sum(case((rows.c.state == state.value, 1), else_=0)).label(state.value)

    query = (
        select(
            rows.c.company_id,
            ManagementCompany.name,
            func.count().label("due"),
            *(count(state) for state in ReportState),
        )
        .join(ManagementCompany, ManagementCompany.id == rows.c.company_id)
        .group_by(rows.c.company_id, ManagementCompany.name)
        .order_by(
            func.sum(case((rows.c.state == ReportState.late.value, 1), else_=0)).desc(),
            ManagementCompany.name,
            rows.c.company_id,
        )
    )
    return [
        CompanyDeadlines(
            company_id=row.company_id,
            company_name=row.name,
            due=row.due,
            published_on_time=int(row.published_on_time or 0),
            published_late=int(row.published_late or 0),
            late=int(row.late or 0),
            not_yet_due=int(row.not_yet_due or 0),
        )
        for row in session.execute(query)
    ]


def due_reports(
    session: Session,
    deadlines: ReportDeadlines,
    today: date,
    *,
    states: frozenset[ReportState] | None = None,
    quarter: Quarter | None = None,
    company_id: int | None = None,
    district_id: int | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[DueReport], int]:
    """The reports due, one per building and quarter, oldest due first; a page and the count."""
    rows = _filtered(deadlines, today, quarter, company_id, district_id)
    if rows is None:
        return [], 0
    where = [] if states is None else [rows.c.state.in_([s.value for s in states])]
    total = session.execute(select(func.count()).select_from(rows).where(*where)).scalar_one()
    query = (
        select(rows, Building.address, ManagementCompany.name.label("company_name"))
        .join(Building, Building.id == rows.c.building_id)
        .join(ManagementCompany, ManagementCompany.id == rows.c.company_id)
        .where(*where)
        .order_by(
            rows.c.due_on, ManagementCompany.name, rows.c.company_id, Building.address, rows.c.building_id
        )
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    found = []
    for row in session.execute(query):
        state = ReportState(row.state)
        due_on = row.due_on if isinstance(row.due_on, date) else date.fromisoformat(str(row.due_on))
        found.append(
            DueReport(
                building_id=row.building_id,
                address=row.address,
                district_id=row.district_id,
                company_id=row.company_id,
                company_name=row.company_name,
                quarter=Quarter(row.year, row.quarter),
                due_on=due_on,
                state=state,
                days_late=_days_late(state, due_on, row.published_at, today, deadlines.timezone),
            )
        )
    return found, total


def _days_late(state: ReportState, due_on: date, published_at: Any, today: date, timezone: str) -> int:
    if state is ReportState.late:
        return (today - due_on).days
    if state is ReportState.published_late and published_at is not None:
        return max((clock.local_day(published_at, timezone) - due_on).days, 1)
    return 0
