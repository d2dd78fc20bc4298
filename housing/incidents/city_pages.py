"""HTML routes of the city dashboard's incidents: a month's interruptions city-wide, and their CSV.

For officials and admins only (`CityActor`). Sensor incidents, reported ones and planned
outages that overlap the month, each with its duration against the interruption the
rules allow; a GET form filters by month, district, utility and source.
"""

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from housing.auth import CityActor
from housing.clock import Now, Today
from housing.dashboard import (
    PAGE_SIZE,
    DistrictId,
    OptionalPeriod,
    PageNumber,
    Pager,
    csv_response,
    districts,
    query_string,
)
from housing.db import SessionDep
from housing.incidents.city import CityIncident, city_incidents
from housing.incidents.export import incidents_csv
from housing.incidents.models import IncidentSource, Utility
from housing.scores import periods
from housing.web import render

router = APIRouter(include_in_schema=False)


def _choice(value: str | None, kind: type) -> object:
    return kind(value) if value else None


def _incidents(
    request: Request,
    session: Session,
    day: date,
    now: datetime,
    district_id: int | None,
    utility: str | None,
    source: str | None,
    **page: int,
) -> tuple[periods.Month, list[CityIncident], int]:
    """The month of `day` on the city's clock and its incidents for these filters (a page, or all)."""
    month = periods.month(day, request.app.state.settings.timezone)
    rows, count = city_incidents(
        session,
        starts=month.starts,
        ends=month.ends,
        now=now,
        district_id=district_id,
        utility=_choice(utility, Utility),
        source=_choice(source, IncidentSource),
        **page,
    )
    return month, rows, count


UtilityFilter = Annotated[str | None, Query(pattern=f"^({'|'.join(Utility)})?$")]
SourceFilter = Annotated[str | None, Query(pattern=f"^({'|'.join(IncidentSource)})?$")]


@router.get("/city/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    today: Today,
    now: Now,
    period: OptionalPeriod = None,
    district_id: DistrictId = None,
    utility: UtilityFilter = None,
    source: SourceFilter = None,
    page: PageNumber = 1,
) -> Response:
    month, rows, count = _incidents(
        request,
        session,
        period or today,
        now,
        district_id,
        utility,
        source,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "scores/incidents.html",
        actor=actor,
        rows=rows,
        period=month.period,
        district_id=district_id,
        utility=utility or "",
        source=source or "",
        utilities=list(Utility),
        sources=list(IncidentSource),
        districts=districts(session),
        pager=Pager(number=page, size=PAGE_SIZE, total=count),
        filters=query_string(period=month.label, district_id=district_id, utility=utility, source=source),
    )


@router.get("/city/incidents.csv")
def incidents_export(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    today: Today,
    now: Now,
    period: OptionalPeriod = None,
    district_id: DistrictId = None,
    utility: UtilityFilter = None,
    source: SourceFilter = None,
) -> Response:
    """Every row the list shows for these filters (all its pages)."""
    month, rows, _ = _incidents(request, session, period or today, now, district_id, utility, source)
    return csv_response(incidents_csv(rows), f"incidents-{month.label}.csv")
