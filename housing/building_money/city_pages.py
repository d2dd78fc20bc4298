"""HTML routes of the city dashboard's building money: cost per m2 compared, and late reports.

For officials and admins only (`CityActor`): a resident or a company's staff gets 403. GET
forms filter by quarter (YYYY-QN), category (empty: all together) and district; each page has
a CSV twin at the same path with `.csv` taking the same filters. The comparison reads the
published report lines only (`costs.py`, the statistics in `comparison.py`); the late reports
come from `deadlines.py`, one statement for the city. docs/building-costs.md explains both.
"""

from dataclasses import dataclass
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select
from sqlmodel import Session, col

from housing import actors
from housing.auth import CityActor, require_roles
from housing.building_money import costs
from housing.building_money.comparison import Direction
from housing.building_money.deadlines import (
    DueReport,
    ReportDeadlines,
    ReportState,
    by_company,
    due_reports,
)
from housing.building_money.export import costs_csv, late_csv
from housing.building_money.rules import ExpenseCategory, Quarter, asked_quarter
from housing.dashboard import (
    PAGE_SIZE,
    CompanyId,
    DistrictId,
    PageNumber,
    Pager,
    csv_response,
    districts,
    export_part,
    next_export,
    query_string,
)
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import Invalid, NotFound
from housing.registry.models import Building, District
from housing.validation import Text
from housing.web import render

router = APIRouter(include_in_schema=False)
CITY_ONLY = Depends(require_roles(actors.CITY_READERS))
OUTLIERS_SHOWN = 100  # buildings listed under the table; the CSV has every company's
LATE_STATES = frozenset({ReportState.late, ReportState.published_late})


def _quarter(
    quarter: Annotated[Text | None, Query(max_length=7, description="YYYY-QN, e.g. 2026-Q3")] = None,
) -> Quarter | None:
    if quarter is None or quarter.strip() == "":
        return None
    return asked_quarter(quarter)


def _category(
    category: Annotated[
        Text | None, Query(max_length=30, description="An expense category; empty or none: all together")
    ] = None,
) -> ExpenseCategory | None:
    if category is None or category.strip() == "":
        return None
    try:
        return ExpenseCategory(category.strip())
    except ValueError as exc:
        raise Invalid(
            f"no expense category {category[:30]!r}; the categories are {', '.join(ExpenseCategory)}",
            field="category",
        ) from exc


QuarterFilter = Annotated[Quarter | None, Depends(_quarter)]
CompanyPage = Annotated[int, Query(ge=1, le=100_000, description="Page of the companies' table, from 1")]
CategoryFilter = Annotated[ExpenseCategory | None, Depends(_category)]


def require_district(session: Session, district_id: int | None) -> None:
    if district_id is not None and session.get(District, district_id) is None:
        raise NotFound(f"district {district_id} not found")


def compared_quarter(session: Session, today: date, quarter: Quarter | None) -> Quarter:
    """The quarter asked for, else the newest with published figures, else the last one over."""
    return quarter or costs.latest_reported_quarter(session) or Quarter.of(today).previous()


@dataclass(frozen=True)
class CostAsked:
    """The comparison's filters as asked (the page, its CSV and the JSON route take the same)."""

    quarter: Quarter | None
    category: ExpenseCategory | None
    district_id: int | None


def _cost_asked(
    quarter: QuarterFilter = None, category: CategoryFilter = None, district_id: DistrictId = None
) -> CostAsked:
    return CostAsked(quarter, category, district_id)


CostFilters = Annotated[CostAsked, Depends(_cost_asked)]


def compared_costs(session: Session, today: date, asked: CostAsked) -> costs.CostComparison:
    """The comparison for these filters (404 for a district that is not), in `compared_quarter`."""
    require_district(session, asked.district_id)
    shown = compared_quarter(session, today, asked.quarter)
    return costs.cost_comparison(session, shown, asked.category, asked.district_id)


@dataclass(frozen=True)
class LateAsked:
    """The late reports' filters as asked (the page, its CSV and the JSON route take the same)."""

    quarter: Quarter | None
    district_id: int | None
    company_id: int | None

    def query(self) -> str:
        """These filters as a query string, for the pages' links."""
        return query_string(
            quarter=str(self.quarter) if self.quarter else None,
            district_id=self.district_id,
            company_id=self.company_id,
        )


def _late_asked(
    quarter: QuarterFilter = None, district_id: DistrictId = None, company_id: CompanyId = None
) -> LateAsked:
    return LateAsked(quarter, district_id, company_id)


LateFilters = Annotated[LateAsked, Depends(_late_asked)]


def reports_due(
    session: Session,
    rule: ReportDeadlines,
    today: date,
    asked: LateAsked,
    *,
    states: frozenset[ReportState] = LATE_STATES,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[DueReport], int]:
    """A page of the reports due in `states` for these filters, and their count (404 for a
    district that is not)."""
    require_district(session, asked.district_id)
    return due_reports(
        session,
        rule,
        today,
        states=states,
        quarter=asked.quarter,
        company_id=asked.company_id,
        district_id=asked.district_id,
        limit=limit,
        offset=offset,
    )


@router.get("/city/money", response_class=HTMLResponse)
def costs_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    today: Today,
    asked: CostFilters,
    page: PageNumber = 1,
) -> Response:
    """Cost per m2 by company (and district): median, n, outliers; the method in words."""
    found = compared_costs(session, today, asked)
    shown, category, district_id = found.quarter, found.category, found.district_id
    pager = Pager(number=page, size=PAGE_SIZE, total=len(found.result.companies))
    outliers = sorted(found.result.outliers.items())[:OUTLIERS_SHOWN]
    return render(
        request,
        "money/city_costs.html",
        actor=actor,
        quarter=str(shown),
        category=category.value if category else "",
        categories=list(ExpenseCategory),
        district_id=district_id,
        districts=districts(session),
        found=found,
        companies=found.result.companies[pager.offset : pager.offset + PAGE_SIZE],
        outliers=_outlier_rows(session, outliers),
        outliers_total=len(found.result.outliers),
        pager=pager,
        filters=query_string(
            quarter=str(shown), category=category.value if category else None, district_id=district_id
        ),
    )


def _outlier_rows(session: Session, outliers: list[tuple[int, Direction]]) -> list[tuple[int, str, str]]:
    """(building id, address, high/low) of the buildings listed, by id."""
    if not outliers:
        return []
    addresses = dict(
        session.execute(
            select(Building.id, Building.address).where(col(Building.id).in_([i for i, _ in outliers]))
        ).all()
    )
    return [(building_id, addresses.get(building_id, ""), side.value) for building_id, side in outliers]


@router.get("/city/money.csv", dependencies=[CITY_ONLY])
def costs_export(
    session: SessionDep,
    today: Today,
    asked: CostFilters,
) -> Response:
    """Every company's and district's line of the comparison the page shows for these filters."""
    found = compared_costs(session, today, asked)
    name = f"building-costs-{found.quarter}-{found.category.value if found.category else 'all'}"
    name += f"-district-{found.district_id}.csv" if found.district_id else ".csv"
    return csv_response(costs_csv(found), name)


@router.get("/city/money/late", response_class=HTMLResponse)
def late_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    today: Today,
    asked: LateFilters,
    page: PageNumber = 1,
    company_page: CompanyPage = 1,
) -> Response:
    """Reports due by company (on time, late, still missing; the most late first, paged by
    `company_page`), and the buildings late (paged by `page`); `company_id` narrows both to one."""
    quarter, district_id, company_id = asked.quarter, asked.district_id, asked.company_id
    rule = ReportDeadlines.of(settings.money, settings.timezone)
    late, total = reports_due(session, rule, today, asked, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    companies = by_company(
        session, rule, today, quarter=quarter, company_id=company_id, district_id=district_id
    )
    company_pager = Pager(number=company_page, size=PAGE_SIZE, total=len(companies))
    return render(
        request,
        "money/city_late.html",
        actor=actor,
        quarter=str(quarter) if quarter else "",
        quarters=[str(q) for q in reversed(rule.quarters_over(today))],
        district_id=district_id,
        districts=districts(session),
        company_id=company_id,
        every_company=query_string(quarter=str(quarter) if quarter else None, district_id=district_id),
        companies=companies[company_pager.offset : company_pager.offset + PAGE_SIZE],
        company_pager=company_pager,
        late=late,
        rule=rule,
        pager=Pager(number=page, size=PAGE_SIZE, total=total),
        filters=asked.query(),
    )


@router.get("/city/money/late.csv", dependencies=[CITY_ONLY])
def late_export(
    session: SessionDep,
    settings: SettingsDep,
    today: Today,
    asked: LateFilters,
    page: PageNumber = 1,
) -> Response:
    """Every report late or published late for these filters, one line each, in parts of EXPORT_ROWS."""
    late, total = reports_due(
        session, ReportDeadlines.of(settings.money, settings.timezone), today, asked, **export_part(page)
    )
    name = f"late-reports-{today:%Y-%m-%d}" + (f"-part-{page}" if page > 1 else "") + ".csv"
    next_url = next_export("/city/money/late.csv", asked.query(), page, total)
    return csv_response(late_csv(late), name, next_url)
