"""HTML routes of the city dashboard's incidents: a month's interruptions city-wide, and their CSV.

For officials and admins only (`CityActor`). Sensor incidents, reported ones and planned
outages that overlap the month, each with its duration against the interruption the
rules allow; a GET form filters by month, district, utility and source.
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

from housing import clock
from housing.auth import CityActor
from housing.dashboard import (
    PAGE_SIZE,
    DistrictId,
    OptionalPeriod,
    PageNumber,
    Pager,
    csv_response,
    districts,
    export_part,
    next_export,
    query_string,
)
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.incidents.city import CityIncident, city_incidents
from housing.incidents.export import incidents_csv
from housing.incidents.models import IncidentSource, Utility
from housing.settings import OutageSettings
from housing.validation import Text
from housing.web import render

router = APIRouter(include_in_schema=False)


UtilityFilter = Annotated[Text | None, Query(pattern=f"^({'|'.join(Utility)})?$")]
SourceFilter = Annotated[Text | None, Query(pattern=f"^({'|'.join(IncidentSource)})?$")]


@dataclass(frozen=True)
class IncidentFilters:
    """The list's GET form: the month (on the city's clock), district, utility and source."""

    month: clock.Month
    district_id: int | None
    utility: str | None
    source: str | None
    outages: OutageSettings

    def select(self, session: Session, now: datetime, **page: int) -> tuple[list[CityIncident], int]:
        """The incidents these filters select: a page of them (limit, offset) or all, and how many."""
        return city_incidents(
            session,
            starts=self.month.starts,
            ends=self.month.ends,
            now=now,
            outages=self.outages,
            district_id=self.district_id,
            utility=Utility(self.utility) if self.utility else None,
            source=IncidentSource(self.source) if self.source else None,
            **page,
        )

    @property
    def query(self) -> str:
        """The filters as a URL query, for the paging and CSV links."""
        return query_string(
            period=self.month.label, district_id=self.district_id, utility=self.utility, source=self.source
        )


def _filters(
    settings: SettingsDep,
    today: Today,
    period: OptionalPeriod = None,
    district_id: DistrictId = None,
    utility: UtilityFilter = None,
    source: SourceFilter = None,
) -> IncidentFilters:
    month = clock.month(period or today, settings.timezone)
    return IncidentFilters(month, district_id, utility, source, settings.outages)


Filters = Annotated[IncidentFilters, Depends(_filters)]


@router.get("/city/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    settings: SettingsDep,
    now: Now,
    chosen: Filters,
    page: PageNumber = 1,
) -> Response:
    rows, count = chosen.select(session, now, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    meters = settings.meters
    return render(
        request,
        "scores/incidents.html",
        actor=actor,
        rows=rows,
        # An incident's deviation is measured from these norms (the detector reads the same).
        norms={Utility.hot_water.value: meters.hot_water_min_c, Utility.heating.value: meters.indoor_min_c},
        period=chosen.month.period,
        district_id=chosen.district_id,
        utility=chosen.utility or "",
        source=chosen.source or "",
        utilities=list(Utility),
        sources=list(IncidentSource),
        districts=districts(session),
        pager=Pager(number=page, size=PAGE_SIZE, total=count),
        filters=chosen.query,
    )


@router.get("/city/incidents.csv")
def incidents_export(
    session: SessionDep, actor: CityActor, now: Now, chosen: Filters, page: PageNumber = 1
) -> Response:
    """The rows the list shows for these filters (all its pages), EXPORT_ROWS a part."""
    rows, count = chosen.select(session, now, **export_part(page))
    following = next_export("/city/incidents.csv", chosen.query, page, count)
    return csv_response(incidents_csv(rows), f"incidents-{chosen.month.label}.csv", following)
