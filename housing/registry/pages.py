"""HTML routes of the company console's register: the buildings a company manages and their apartments.

Both lists are paged and cost the same few queries whatever the page holds (counts come
from one GROUP BY, joined to the page's rows).
"""

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func
from sqlmodel import col, select

from housing.auth import StaffActor
from housing.db import SessionDep
from housing.deps import Today
from housing.registry.models import Apartment, Building, District
from housing.registry.queries import VisibleBuilding, visible_apartments, visible_buildings
from housing.routing import page_of
from housing.validation import PageNumber
from housing.web import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 50


@router.get("/console/buildings", response_class=HTMLResponse)
def buildings(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    page: PageNumber = 1,
) -> Response:
    scope = visible_buildings(actor, today)
    paging = page_of(session, scope, page, PAGE_SIZE)
    counts = (
        select(Apartment.building_id, func.count().label("apartments"))
        .group_by(Apartment.building_id)
        .subquery()
    )
    rows = session.execute(
        scope.add_columns(District.name, func.coalesce(counts.c.apartments, 0))
        .join(District, District.id == Building.district_id)
        .outerjoin(counts, counts.c.building_id == Building.id)
        .order_by(Building.address, Building.id)
        .limit(PAGE_SIZE)
        .offset((paging["page"] - 1) * PAGE_SIZE)
    ).all()
    return render(request, "housing/buildings.html", actor=actor, rows=rows, paging=paging)


@router.get("/console/buildings/{building_id}", response_class=HTMLResponse)
def building(
    request: Request,
    session: SessionDep,
    actor: StaffActor,
    today: Today,
    found: VisibleBuilding,
    page: PageNumber = 1,
) -> Response:
    scope = visible_apartments(actor, today).where(Apartment.building_id == found.id)
    paging = page_of(session, scope, page, PAGE_SIZE)
    apartments = session.exec(
        scope.order_by(func.length(Apartment.number), Apartment.number, col(Apartment.id))
        .limit(PAGE_SIZE)
        .offset((paging["page"] - 1) * PAGE_SIZE)
    ).all()
    return render(
        request, "housing/building.html", actor=actor, building=found, apartments=apartments, paging=paging
    )
