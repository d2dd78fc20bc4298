"""HTML routes of the city dashboard's escalated requests: the city-wide list and its CSV.

For officials and admins only (`CityActor`). A GET form filters by district (the
building's), company and whether the request is still open; one query reads a page of
rows with their building, district, category and company (housing.requests.city).
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from housing.auth import CityActor
from housing.dashboard import (
    PAGE_SIZE,
    CompanyId,
    DistrictId,
    PageNumber,
    Pager,
    companies,
    csv_response,
    districts,
    export_part,
    next_export,
    query_string,
)
from housing.db import SessionDep
from housing.deps import Now
from housing.requests.city import escalated_requests
from housing.requests.export import escalated_csv
from housing.validation import Text
from housing.web import render

router = APIRouter(include_in_schema=False)

State = Annotated[Text, Query(pattern="^(open|all)$", description="open: still open; all: resolved ones too")]


@router.get("/city/requests", response_class=HTMLResponse)
def escalated_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    now: Now,
    district_id: DistrictId = None,
    company_id: CompanyId = None,
    state: State = "open",
    page: PageNumber = 1,
) -> Response:
    rows, count = escalated_requests(
        session,
        district_id=district_id,
        company_id=company_id,
        open_only=state == "open",
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    return render(
        request,
        "scores/escalated.html",
        actor=actor,
        rows=rows,
        now=now,
        district_id=district_id,
        company_id=company_id,
        state=state,
        districts=districts(session),
        companies=companies(session, district_id),
        pager=Pager(number=page, size=PAGE_SIZE, total=count),
        filters=query_string(district_id=district_id, company_id=company_id, state=state),
    )


@router.get("/city/requests.csv")
def escalated_export(
    session: SessionDep,
    actor: CityActor,
    now: Now,
    district_id: DistrictId = None,
    company_id: CompanyId = None,
    state: State = "open",
    page: PageNumber = 1,
) -> Response:
    """The rows the list shows for these filters (all its pages), EXPORT_ROWS a part."""
    rows, count = escalated_requests(
        session,
        district_id=district_id,
        company_id=company_id,
        open_only=state == "open",
        **export_part(page),
    )
    filters = query_string(district_id=district_id, company_id=company_id, state=state)
    following = next_export("/city/requests.csv", filters, page, count)
    return csv_response(escalated_csv(rows, now=now), "escalated-requests.csv", following)
