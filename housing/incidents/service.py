"""Incident verbs, called by sensors (detected conditions) and staff (planned outages)."""

from datetime import datetime
from decimal import Decimal

from sqlalchemy import or_
from sqlmodel import Session, select

from housing.errors import Invalid
from housing.incidents import notices
from housing.incidents.models import IncidentSource, ServiceIncident, Utility


def open_incident(
    session: Session,
    *,
    building_id: int,
    utility: Utility,
    source: IncidentSource,
    origin: str,
    started_at: datetime,
    deviation: Decimal | None = None,
    apartment_id: int | None = None,
    detail: str = "",
) -> ServiceIncident:
    """Opens an incident, or deepens the open one from the same origin (worst deviation kept)."""
    current = find_open_incident(session, building_id=building_id, utility=utility, origin=origin)
    if current is not None:
        if deviation is not None and (current.deviation is None or deviation > current.deviation):
            current.deviation = deviation
            session.add(current)
        return current
    incident = ServiceIncident(
        building_id=building_id,
        apartment_id=apartment_id,
        utility=utility,
        source=source,
        origin=origin,
        started_at=started_at,
        deviation=deviation,
        detail=detail,
    )
    session.add(incident)
    session.flush()
    return incident


def find_open_incident(
    session: Session, *, building_id: int, utility: Utility, origin: str
) -> ServiceIncident | None:
    return session.exec(
        select(ServiceIncident).where(
            ServiceIncident.building_id == building_id,
            ServiceIncident.utility == utility,
            ServiceIncident.origin == origin,
            ServiceIncident.ended_at.is_(None),
        )
    ).first()


def close_incident(session: Session, incident: ServiceIncident, *, ended_at: datetime) -> ServiceIncident:
    if ended_at < incident.started_at:
        raise Invalid("an incident cannot end before it started", field="ended_at")
    incident.ended_at = ended_at
    session.add(incident)
    session.flush()
    return incident


def plan_outage(
    session: Session,
    *,
    building_id: int,
    utility: Utility,
    starts_at: datetime,
    ends_at: datetime,
    declared_by_id: int,
    now: datetime,
    detail: str = "",
) -> ServiceIncident:
    """A company announces an interruption ahead: an incident of source `planned` with its end known."""
    if ends_at <= starts_at:
        raise Invalid("a planned outage must end after it starts", field="ends_at")
    if ends_at <= now:
        raise Invalid("a planned outage cannot end in the past", field="ends_at")
    outage = ServiceIncident(
        building_id=building_id,
        utility=utility,
        source=IncidentSource.planned,
        origin=f"user:{declared_by_id}",
        started_at=starts_at,
        ended_at=ends_at,
        detail=detail,
    )
    session.add(outage)
    session.flush()
    notices.outage_planned(session, outage, now)
    return outage


def building_incidents(
    session: Session, building_id: int, *, since: datetime | None = None, until: datetime | None = None
):
    """A building's incidents of every source that overlap [since, until), newest first (a query)."""
    query = select(ServiceIncident).where(ServiceIncident.building_id == building_id)
    if since is not None:
        query = query.where(or_(ServiceIncident.ended_at.is_(None), ServiceIncident.ended_at > since))
    if until is not None:
        query = query.where(ServiceIncident.started_at < until)
    return query
