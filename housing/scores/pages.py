"""HTML routes of the city dashboard's quality scores: the month's ranking and a company's year.

For officials and admins only (`CityActor`). The ranking is a GET form (month, district)
with every component's points and sample size; a company's page draws its last 12
months as inline SVG with the same figures in a table beside it. Each list has a CSV
twin with the same filters. A page is a handful of queries whatever the number of rows
(housing.scores.service reads a page of scores and then all their components at once).
"""

from datetime import date

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlmodel import Session

from housing import actors, clock
from housing.auth import CityActor, require_roles
from housing.dashboard import (
    PAGE_SIZE,
    DistrictId,
    OptionalPeriod,
    OptionalUntil,
    PageNumber,
    Pager,
    csv_response,
    districts,
    query_string,
)
from housing.db import SessionDep
from housing.deps import Today
from housing.errors import NotFound
from housing.registry.models import District, ManagementCompany
from housing.scores import scoring, service
from housing.scores.chart import trend_chart
from housing.scores.export import ranking_csv, trend_csv
from housing.validation import Id
from housing.web import render

router = APIRouter(include_in_schema=False)
CITY_ONLY = Depends(require_roles(actors.CITY_READERS))

TREND_MONTHS = 12


@router.get("/city", dependencies=[CITY_ONLY])
def city_home() -> Response:
    return RedirectResponse("/city/scores", status_code=303)


@router.get("/city/scores", response_class=HTMLResponse)
def ranking_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    today: Today,
    period: OptionalPeriod = None,
    district_id: DistrictId = None,
    page: PageNumber = 1,
) -> Response:
    """The month's ranking (the newest month with scores unless one is asked for)."""
    period = _ranked_period(session, today, period, district_id)
    scores, count = service.ranking(
        session, period, district_id=district_id, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE
    )
    filters = query_string(period=f"{period:%Y-%m}", district_id=district_id)
    return render(
        request,
        "scores/ranking.html",
        actor=actor,
        period=period,
        district_id=district_id,
        districts=districts(session),
        scores=scores,
        components=scoring.COMPONENTS,
        pager=Pager(number=page, size=PAGE_SIZE, total=count),
        filters=filters,
        provisional=period >= clock.month_of(today),
    )


@router.get("/city/scores.csv", dependencies=[CITY_ONLY])
def ranking_export(
    session: SessionDep,
    today: Today,
    period: OptionalPeriod = None,
    district_id: DistrictId = None,
) -> Response:
    """Every row of the ranking the page shows for these filters (all its pages)."""
    period = _ranked_period(session, today, period, district_id)
    scores, _ = service.ranking(session, period, district_id=district_id)
    name = f"quality-scores-{period:%Y-%m}" + (f"-district-{district_id}" if district_id else "") + ".csv"
    return csv_response(ranking_csv(scores), name)


@router.get("/city/companies/{company_id}", response_class=HTMLResponse)
def company_page(
    company_id: Id,
    request: Request,
    session: SessionDep,
    actor: CityActor,
    today: Today,
    until: OptionalUntil = None,
) -> Response:
    """A company's last 12 months: the chart, the table of every component, the latest inputs."""
    company, district, months, trend = _trend(session, company_id, until or today)
    by_period = {score.period: score for score in trend}
    return render(
        request,
        "scores/company.html",
        actor=actor,
        company=company,
        district=district,
        months=[(month, by_period.get(month)) for month in months],
        chart=trend_chart([(m, by_period[m].total if m in by_period else None) for m in months]),
        latest=trend[-1] if trend else None,
        components=scoring.COMPONENTS,
        until=months[-1],
        earlier=clock.add_months(months[-1], -TREND_MONTHS),
        later=clock.add_months(months[-1], TREND_MONTHS)
        if clock.add_months(months[-1], 1) <= clock.month_of(today)
        else None,
        filters=query_string(until=f"{months[-1]:%Y-%m}"),
    )


@router.get("/city/companies/{company_id}/scores.csv", dependencies=[CITY_ONLY])
def company_export(
    company_id: Id,
    session: SessionDep,
    today: Today,
    until: OptionalUntil = None,
) -> Response:
    """The 12 months the company's page shows, one line each."""
    company, _, months, trend = _trend(session, company_id, until or today)
    return csv_response(trend_csv(months, trend), f"company-{company.id}-scores-{months[-1]:%Y-%m}.csv")


def _ranked_period(session: Session, today: date, period: date | None, district_id: int | None) -> date:
    """The month asked for, else the newest with scores, else this one; the district must exist."""
    if district_id is not None and session.get(District, district_id) is None:
        raise NotFound(f"district {district_id} not found")
    return period or service.latest_period(session, today) or clock.month_of(today)


def _trend(
    session: Session, company_id: int, until: date
) -> tuple[ManagementCompany, str | None, list[date], list[service.RankedScore]]:
    """The company, its district's name, the 12 months up to `until` and their stored scores."""
    company, district = _company(session, company_id)
    months = clock.last_months(until, TREND_MONTHS)
    return company, district, months, service.company_trend(session, company_id, months)


def _company(session: Session, company_id: int) -> tuple[ManagementCompany, str | None]:
    row = session.execute(
        select(ManagementCompany, District.name)
        .outerjoin(District, District.id == ManagementCompany.district_id)
        .where(ManagementCompany.id == company_id)
    ).first()
    if row is None:
        raise NotFound(f"company {company_id} not found")
    return row[0], row[1]
