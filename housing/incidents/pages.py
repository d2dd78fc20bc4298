"""HTML route of the resident's notices: planned outages and incidents in their buildings, now and ahead."""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import or_
from sqlmodel import col, select

from housing.auth import ResidentActor
from housing.db import SessionDep
from housing.deps import Now, Today
from housing.incidents.models import ServiceIncident
from housing.registry.models import Building
from housing.registry.queries import visible_buildings
from housing.web import render

router = APIRouter(include_in_schema=False)

NOTICES = 100  # a building rarely has more going on at once


@router.get("/notices", response_class=HTMLResponse)
def notices(request: Request, session: SessionDep, actor: ResidentActor, today: Today, now: Now) -> Response:
    """What is interrupted in the resident's buildings now or is planned to be, soonest first (one query)."""
    buildings = visible_buildings(actor, today).with_only_columns(Building.id)
    rows = session.execute(
        select(ServiceIncident, Building.address)
        .join(Building, Building.id == ServiceIncident.building_id)
        .where(
            col(ServiceIncident.building_id).in_(buildings),
            or_(col(ServiceIncident.ended_at).is_(None), col(ServiceIncident.ended_at) > now),
        )
        .order_by(ServiceIncident.started_at, ServiceIncident.id)
        .limit(NOTICES)
    ).all()
    return render(request, "housing/notices.html", actor=actor, rows=rows, now=now)
