"""JSON route of the city map: every visible building as a compact point, coloured by a layer.

Officials and admins get the city, a company's staff their company's buildings (the map's
scoping: `twin/map.py`); residents 403, like every console and city route (the map is a
tool of those who serve buildings; a resident's building view is `/buildings/{id}`).
"""

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from housing.auth import WatcherActor
from housing.dashboard import CompanyId, DistrictId
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.schemas import API_PROBLEMS
from housing.twin.grading import Grade
from housing.twin.map import (
    FIELDS,
    FROM_GRADE,
    Layer,
    MapPoints,
    Scale,
    company_names,
    district_names,
    map_points,
    scale_of,
)
from sensors.meters.conditions import in_season, parse_season

router = APIRouter(tags=["twin: city map"], responses=API_PROBLEMS)

LayerChoice = Annotated[Layer, Query(description="What colours the points; `grade` by default")]

# One point: id, latitude, longitude, address, district id, company id, grade, the layer's value.
Point = tuple[int, float, float, str, int, int | None, Grade | None, float | None]


class ScaleRead(BaseModel):
    kind: str = Field(description="grade: colour by the grade; threshold: by `yellow`/`red`; flag: on from 1")
    yellow: float | None = None
    red: float | None = None
    more_is_worse: bool = True


class MapBuildings(BaseModel):
    """The map's data in arrays, not objects: 44,000 points stay a few megabytes and are
    written without building an object per point. Names travel once, in `districts` and
    `companies`; each point carries their ids."""

    layer: Layer
    fields: list[str] = Field(description="The order of each point's members")
    points: list[Point] = Field(
        description="[id, lat, lon, address, district_id, company_id (null: no manager today),"
        " grade (null: not graded yet), value (null: no data; the grade layer: always null)]"
    )
    count: int
    scale: ScaleRead
    as_of: datetime = Field(description="When the live layers were read (now)")
    graded_from: date | None = Field(
        None, description="Grade, debt and report layers: the oldest stored grade shown is as of this day"
    )
    graded_to: date | None = Field(None, description="... and the newest")
    heating_season: bool = Field(description="Whether today is in the heating season (the cold layer)")
    districts: list[tuple[int, str]] = Field(description="[id, name] of every district")
    companies: list[tuple[int, str]] = Field(description="[id, name] of every company the caller may see")


def map_document(
    found: MapPoints,
    scale: Scale,
    now: datetime,
    heating: bool,
    districts: list[tuple[int, str]],
    companies: list[tuple[int, str]],
) -> dict[str, Any]:
    grades = found.layer in FROM_GRADE
    return {
        "layer": found.layer.value,
        "fields": list(FIELDS),
        "points": found.points,
        "count": len(found.points),
        "scale": scale.as_json(),
        "as_of": now.isoformat(),
        "graded_from": found.graded_from.isoformat() if grades and found.graded_from else None,
        "graded_to": found.graded_to.isoformat() if grades and found.graded_to else None,
        "heating_season": heating,
        "districts": districts,
        "companies": companies,
    }


def in_heating_season(settings: Any, today: date) -> bool:
    return in_season(today, parse_season(settings.meters.heating_season))


@router.get("/map/buildings", response_model=MapBuildings)
def map_buildings(
    session: SessionDep,
    actor: WatcherActor,
    settings: SettingsDep,
    today: Today,
    now: Now,
    district_id: DistrictId = None,
    company_id: CompanyId = None,
    layer: LayerChoice = Layer.grade,
) -> Response:
    """Every building the caller may see as a point with its grade and the layer's value:
    officials and admins the city, a company's staff the buildings it manages today.
    `district_id` and `company_id` narrow it (empty: all). Layers: `grade` (stored daily),
    `incidents` (open now), `overdue` (open requests past deadline now), `cold` (cold flats
    now), `debt` (share of apartments with a debt past due, as of the grade), `meeting`
    (owners voting now), `report` (the last due quarterly report: 1 on time, 0.5 late, 0
    missing, as of the grade). Written straight to JSON, not validated point by point."""
    found = map_points(
        session, actor, today, now, layer=layer, district_id=district_id, company_id=company_id
    )
    document = map_document(
        found,
        scale_of(found.layer, settings),
        now,
        in_heating_season(settings, today),
        district_names(session),
        company_names(session, actor, today),
    )
    body = json.dumps(document, separators=(",", ":"), ensure_ascii=False)
    return Response(body, media_type="application/json")
