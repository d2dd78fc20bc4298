"""HTML routes of the city map: the map (Leaflet, drawn by static/twin-map.js) and its list.

The same audience as the JSON route (`map_endpoints.py`): officials and admins the city, a
company's staff their company's buildings; residents 403. The filters are a GET form, so
both pages work without JavaScript: the map page then points to the list, which is the
same buildings as a paged table (the default for screen readers and small phones).
"""

import math
from datetime import date
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func, select
from sqlmodel import Session

from housing.actors import Actor
from housing.auth import WatcherActor
from housing.dashboard import PageNumber, Pager
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.registry.models import Building, District
from housing.twin.map import (
    FROM_GRADE,
    Layer,
    MapFilters,
    company_names,
    district_names,
    graded_range,
    map_statement,
    scale_of,
)
from housing.twin.map_endpoints import Asked, in_heating_season, map_query
from housing.web import render

router = APIRouter(include_in_schema=False)

PAGE_SIZE = 100


def tile_origin(tile_url: str | None) -> str | None:
    """The tile server's origin for the CSP's img-src ({s} subdomains as a wildcard), or None."""
    if not tile_url:
        return None
    parts = urlsplit(tile_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc.replace('{s}', '*')}"


def _frame(actor: Actor) -> str:
    """Officials and admins see the map among the city dashboard's tabs; staff in their console."""
    return "scores/city.html" if actor.sees_whole_city else "twin/console_frame.html"


def _common(session: Session, actor: Actor, settings: Any, today: date, asked: MapFilters) -> dict[str, Any]:
    layer = asked.layer
    return {
        "actor": actor,
        "frame": _frame(actor),
        "layer": layer.value,
        "layers": [choice.value for choice in Layer],
        # The layers read from the stored grades say as of when: (oldest, newest graded_on).
        "graded": graded_range(session, actor, today, asked.district_id, asked.company_id)
        if layer in FROM_GRADE
        else None,
        "scale": scale_of(layer, settings),
        "heating_season": in_heating_season(settings, today),
        "district_id": asked.district_id,
        "company_id": asked.company_id,
        "districts": district_names(session),
        "companies": company_names(session, actor, today),
        "filters": map_query(asked),
    }


@router.get("/map", response_class=HTMLResponse)
def map_page(
    request: Request,
    session: SessionDep,
    actor: WatcherActor,
    settings: SettingsDep,
    today: Today,
    asked: Asked,
) -> Response:
    """The map's frame, form and legend; static/twin-map.js fetches the points and draws them."""
    twin = settings.twin
    tiles = twin.tile_url if tile_origin(twin.tile_url) else None
    return render(
        request,
        "twin/map.html",
        tile_url=tiles or "",
        tile_attribution=twin.tile_attribution if tiles else "",
        **_common(session, actor, settings, today, asked),
    )


@router.get("/map/list", response_class=HTMLResponse)
def map_list(
    request: Request,
    session: SessionDep,
    actor: WatcherActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    asked: Asked,
    page: PageNumber = 1,
) -> Response:
    """The map's buildings as a table, by district and address, a page at a time."""
    query = map_statement(session, actor, today, now, asked)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    last = max(1, math.ceil(total / PAGE_SIZE))
    number = min(page, last)
    listed = (
        query.add_columns(District.name)
        .join(District, District.id == Building.district_id)
        .order_by(District.name, Building.address, Building.id)
        .limit(PAGE_SIZE)
        .offset((number - 1) * PAGE_SIZE)
    )
    rows = [tuple(row) for row in session.execute(listed)]  # a point, then its district's name
    context = _common(session, actor, settings, today, asked)
    companies = dict(context["companies"])
    scale = context["scale"]
    listing = [
        {
            "id": row[0],
            "address": row[3],
            "district": row[8],
            "company": companies.get(row[5], "") if row[5] is not None else None,
            "grade": row[6],
            "value": row[7],
            "level": scale.level(row[6], row[7]),
        }
        for row in rows
    ]
    return render(
        request,
        "twin/map_list.html",
        rows=listing,
        pager=Pager(number=number, size=PAGE_SIZE, total=total),
        **context,
    )
