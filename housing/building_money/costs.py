"""The officials' comparison of cost per m2: what it reads, and the comparison made of it.

Reads published figures only: `BuildingReportLine`, one narrow table with the company,
district and area copied in when the report was published, so the comparison of a quarter
is one indexed query on (year, quarter, category) whatever the city's size, and a building
that changed hands since stays with the company whose report it was. A building with no line
in a category spent nothing on it that quarter and is not in that category's sample. The
statistics are `comparison.compare` (pure); docs/building-costs.md explains them.
"""

from collections import OrderedDict
from dataclasses import dataclass
from threading import Lock
from typing import Any

from sqlalchemy import BigInteger, Float, cast, func, select
from sqlmodel import Session

from housing.building_money.comparison import BuildingFigure, Comparison, compare
from housing.building_money.models import BuildingReportLine
from housing.building_money.rules import ExpenseCategory, Quarter
from housing.registry.models import District, ManagementCompany


@dataclass(frozen=True)
class CostComparison:
    quarter: Quarter
    category: ExpenseCategory | None  # None: all categories together
    district_id: int | None
    result: Comparison
    company_names: dict[int, str]
    district_names: dict[int, str]


def _where(quarter: Quarter, category: ExpenseCategory | None, district_id: int | None) -> list:
    line = BuildingReportLine
    where = [line.year == quarter.year, line.quarter == quarter.number]
    if category is not None:
        where.append(line.category == category.value)
    if district_id is not None:
        where.append(line.district_id == district_id)
    return where


def figures(
    session: Session, quarter: Quarter, category: ExpenseCategory | None, district_id: int | None = None
) -> list[BuildingFigure]:
    """Each building's published spending of the quarter (in the category, or in all) and its area."""
    line = BuildingReportLine
    where = _where(quarter, category, district_id)
    # The area as a float: the comparison divides by it, and 44,000 Decimals cost more than the query.
    area = cast(line.area_m2, Float)
    if category is not None:
        query = select(line.building_id, line.company_id, line.district_id, line.amount_minor, area)
    else:
        # A report's lines share its building, company, district and area: one integer key to
        # group by (a third faster on PostgreSQL than the four columns).
        query = select(
            func.min(line.building_id),
            func.min(line.company_id),
            func.min(line.district_id),
            cast(func.sum(line.amount_minor), BigInteger),
            func.min(area),
        ).group_by(line.report_id)
    return _tuples(session, query.where(*where))


def _tuples(session: Session, query: Any) -> list[tuple]:
    """The rows as the driver's plain tuples: for 44,000 rows, building SQLAlchemy's Row objects
    costs more than the query. Only for columns without result processing (numbers, text)."""
    connection = session.connection()
    compiled = query.compile(connection)
    params = compiled.params
    cursor = connection.connection.cursor()
    try:
        if compiled.positional:
            cursor.execute(str(compiled), [params[name] for name in compiled.positiontup])
        else:
            cursor.execute(str(compiled), params)
        return cursor.fetchall()
    finally:
        cursor.close()


def cost_comparison(
    session: Session, quarter: Quarter, category: ExpenseCategory | None, district_id: int | None = None
) -> CostComparison:
    result = _compared(session, quarter, category, district_id)
    company_ids = [g.key for g in result.companies]
    names = (
        dict(
            session.execute(
                select(ManagementCompany.id, ManagementCompany.name).where(
                    ManagementCompany.id.in_(company_ids)
                )
            ).all()
        )
        if company_ids
        else {}
    )
    districts = dict(session.execute(select(District.id, District.name)).all())
    return CostComparison(quarter, category, district_id, result, names, districts)


# Published lines are never changed or deleted (a correction is a line of a later report), so a
# selection's comparison changes only when lines are added to it: its version is how many lines
# it has, the newest report among them and their sum. Each web process keeps the last few
# comparisons by that version; the check is one indexed aggregate instead of reading and
# sorting 44,000 figures again.
_KEPT = 32
_kept: OrderedDict[tuple, Comparison] = OrderedDict()
_kept_lock = Lock()


def _compared(
    session: Session, quarter: Quarter, category: ExpenseCategory | None, district_id: int | None
) -> Comparison:
    line = BuildingReportLine
    count, newest, total = _tuples(
        session,
        select(func.count(), func.max(line.report_id), cast(func.sum(line.amount_minor), BigInteger)).where(
            *_where(quarter, category, district_id)
        ),
    )[0]
    key = (str(session.get_bind().url), str(quarter), category, district_id, count, newest, total)
    with _kept_lock:
        found = _kept.get(key)
        if found is not None:
            _kept.move_to_end(key)
            return found
    found = compare(figures(session, quarter, category, district_id))
    with _kept_lock:
        _kept[key] = found
        while len(_kept) > _KEPT:
            _kept.popitem(last=False)
    return found


def latest_reported_quarter(session: Session) -> Quarter | None:
    """The newest quarter with published figures: where the page opens."""
    row = session.execute(
        select(BuildingReportLine.year, BuildingReportLine.quarter)
        .order_by(BuildingReportLine.year.desc(), BuildingReportLine.quarter.desc())
        .limit(1)
    ).first()
    return Quarter(row[0], row[1]) if row else None
