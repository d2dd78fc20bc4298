"""Incident verbs, called by sensors (detected conditions) and staff (planned outages)."""

from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, select

from housing.errors import Invalid
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
