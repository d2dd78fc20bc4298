"""HTML route of the company console's meter alerts: the open alerts of the meters a company watches.

One query for the page's rows (alert, meter, building address, apartment number), one for
the count, whatever the number of alerts.
"""

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col

from housing.auth import StaffActor
from housing.db import SessionDep
from housing.deps import Today
from housing.registry.models import Apartment, Building
from housing.routing import page_of
from housing.validation import PageNumber, Text
from housing.web import render
from sensors.meters.queries import visible_alerts
from sensors.models import Alert, AlertKind, Meter

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/console/alerts", response_class=HTMLResponse)
def open_alerts(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    kind: Annotated[Text, Query(max_length=20)] = "",
    page: PageNumber = 1,
) -> Response:
    """Open alerts, the oldest first: a leak or a silent meter waiting longest leads."""
    query = visible_alerts(actor, today).where(col(Alert.closed_at).is_(None))
    if kind in AlertKind.__members__:
        query = query.where(Alert.kind == kind)
    else:
        kind = ""
    paging = page_of(session, query, page, PAGE_SIZE)
    rows = session.execute(
        query.add_columns(Meter, Building.address, Apartment.number)
        .join(Building, Building.id == Meter.building_id)
        .outerjoin(Apartment, Apartment.id == Meter.apartment_id)
        .order_by(Alert.opened_at, Alert.id)
        .limit(PAGE_SIZE)
        .offset((paging["page"] - 1) * PAGE_SIZE)
    ).all()
    return render(
        request,
        "sensors/alerts.html",
        actor=actor,
        rows=rows,
        kind=kind,
        kinds=list(AlertKind),
        paging=paging,
        query_string=f"kind={kind}" if kind else "",
    )
