"""HTML route of the city dashboard's owners' meetings: held, quorum, decisions, company changes.

For officials and admins only (`CityActor`). A GET form filters by district and period
(months `since` and `until`, both included; the last 12 months by default); the figures come
from housing.meetings.city, a handful of queries whatever the city's size. The companies'
table (with each company's latest quality score beside its changes) is paged.
"""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from housing import clock
from housing.auth import CityActor
from housing.dashboard import PAGE_SIZE, DistrictId, PageNumber, Pager, districts, query_string
from housing.db import SessionDep
from housing.deps import SettingsDep, Today
from housing.errors import Invalid
from housing.meetings.city import Window, city_meetings, describe
from housing.validation import Text
from housing.web import render

router = APIRouter(include_in_schema=False)


def _month(name: str):
    def read(
        value: Annotated[Text | None, Query(alias=name, max_length=7, description="YYYY-MM")] = None,
    ) -> date | None:
        if value is None or value.strip() == "":
            return None
        try:
            return clock.parse_period(value.strip())
        except ValueError as exc:
            raise Invalid(str(exc), field=name) from exc

    return read


Since = Annotated[date | None, Depends(_month("since"))]
Until = Annotated[date | None, Depends(_month("until"))]


def window_of(since: date | None, until: date | None, today: date, timezone: str) -> Window:
    """The months asked for (422 naming `since` when it comes after `until`)."""
    try:
        return Window.of(since, until, today=today, timezone=timezone)
    except ValueError as exc:
        raise Invalid(str(exc), field="since") from exc


@router.get("/city/meetings", response_class=HTMLResponse)
def meetings_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    today: Today,
    since: Since = None,
    until: Until = None,
    district_id: DistrictId = None,
    page: PageNumber = 1,
) -> Response:
    window = window_of(since, until, today, settings.timezone)
    report = city_meetings(session, window, district_id=district_id)
    pager = Pager(number=page, size=PAGE_SIZE, total=len(report.companies))
    return render(
        request,
        "meetings/city.html",
        actor=actor,
        report=report,
        companies=describe(session, report.companies[pager.offset : pager.offset + PAGE_SIZE], window.until),
        since=f"{window.since:%Y-%m}",
        until=f"{window.until:%Y-%m}",
        district_id=district_id,
        districts=districts(session),
        pager=pager,
        filters=query_string(
            since=f"{window.since:%Y-%m}", until=f"{window.until:%Y-%m}", district_id=district_id
        ),
    )
