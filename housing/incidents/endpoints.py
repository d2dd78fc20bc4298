"""JSON routes of incidents: planned outages declared by companies, and a building's interruptions."""

from typing import Annotated

from fastapi import APIRouter, Query, status
from sqlmodel import col

from housing.auth import DispatcherActor
from housing.db import SessionDep
from housing.deps import Now, SettingsDep, Today
from housing.errors import Invalid
from housing.incidents import service
from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.incidents.schemas import IncidentDuration, IncidentRead, OutageCreate
from housing.registry.models import Building
from housing.registry.queries import VisibleBuilding, visible_buildings
from housing.routing import Paging, paginate
from housing.schemas import API_PROBLEMS, Page
from housing.validation import Moment

router = APIRouter(tags=["incidents"], responses=API_PROBLEMS)


@router.post("/outages", response_model=IncidentRead, status_code=status.HTTP_201_CREATED)
def declare_outage(body: OutageCreate, session: SessionDep, actor: DispatcherActor, today: Today, now: Now):
    query = visible_buildings(actor, today).where(Building.id == body.building_id)
    if session.exec(query).first() is None:
        raise Invalid(f"building {body.building_id} does not exist", field="building_id")
    return service.plan_outage(
        session,
        building_id=body.building_id,
        utility=body.utility,
        starts_at=body.starts_at,
        ends_at=body.ends_at,
        declared_by_id=actor.user_id,
        now=now,
        detail=body.detail,
    )


@router.get("/buildings/{building_id}/incidents", response_model=Page[IncidentDuration])
def list_building_incidents(
    session: SessionDep,
    settings: SettingsDep,
    now: Now,
    building: VisibleBuilding,
    paging: Paging,
    since: Annotated[Moment | None, Query(description="Only those still going on after this")] = None,
    until: Annotated[Moment | None, Query(description="Only those begun before this")] = None,
    source: Annotated[IncidentSource | None, Query()] = None,
    utility: Annotated[Utility | None, Query()] = None,
):
    """Sensor-detected incidents and planned outages, each with its duration against the allowance."""
    query = service.building_incidents(session, building.id, since=since, until=until)
    if source is not None:
        query = query.where(ServiceIncident.source == source)
    if utility is not None:
        query = query.where(ServiceIncident.utility == utility)
    page = paginate(session, query, paging, col(ServiceIncident.started_at).desc())
    outages = settings.outages
    page["items"] = [IncidentDuration.of(incident, now, outages) for incident in page["items"]]
    return page
