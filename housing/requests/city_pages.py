"""HTML routes of the city dashboard's escalated requests: the city-wide list and its CSV.

For officials and admins only (`CityActor`). A GET form filters by district (the
building's), company and whether the request is still open; one query reads a page of
rows with their building, district, category and company (housing.requests.city).
"""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import Session

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
from housing.requests.city import EscalatedRequest, escalated_requests
from housing.requests.export import escalated_csv
from housing.validation import Text
from housing.web import render

router = APIRouter(include_in_schema=False)

State = Annotated[Text, Query(pattern="^(open|all)$", description="open: still open; all: resolved ones too")]


@dataclass(frozen=True)
class EscalatedFilters:
    """The list's GET form: district (the building's), company, and open or all."""

    district_id: int | None
    company_id: int | None
    state: str

    def select(self, session: Session, **page: int) -> tuple[list[EscalatedRequest], int]:
        """The requests these filters select: a page of them (limit, offset) or all, and how many."""
        return escalated_requests(
            session,
            district_id=self.district_id,
            company_id=self.company_id,
            open_only=self.state == "open",
            **page,
        )

    @property
    def query(self) -> str:
        return query_string(district_id=self.district_id, company_id=self.company_id, state=self.state)


def _filters(
    district_id: DistrictId = None, company_id: CompanyId = None, state: State = "open"
) -> EscalatedFilters:
    return EscalatedFilters(district_id, company_id, state)


Filters = Annotated[EscalatedFilters, Depends(_filters)]


@router.get("/city/requests", response_class=HTMLResponse)
def escalated_page(
    request: Request,
    session: SessionDep,
    actor: CityActor,
    now: Now,
    chosen: Filters,
    page: PageNumber = 1,
) -> Response:
    rows, count = chosen.select(session, limit=PAGE_SIZE, offset=(page - 1) * PAGE_SIZE)
    return render(
        request,
        "scores/escalated.html",
        actor=actor,
        rows=rows,
        now=now,
        district_id=chosen.district_id,
        company_id=chosen.company_id,
        state=chosen.state,
        districts=districts(session),
        companies=companies(session, chosen.district_id),
        pager=Pager(number=page, size=PAGE_SIZE, total=count),
        filters=chosen.query,
    )


@router.get("/city/requests.csv")
def escalated_export(
    session: SessionDep, actor: CityActor, now: Now, chosen: Filters, page: PageNumber = 1
) -> Response:
    """The rows the list shows for these filters (all its pages), EXPORT_ROWS a part."""
    rows, count = chosen.select(session, **export_part(page))
    following = next_export("/city/requests.csv", chosen.query, page, count)
    return csv_response(escalated_csv(rows, now=now), "escalated-requests.csv", following)
