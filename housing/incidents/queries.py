"""What a resident sees of service incidents: those going on now or planned in their buildings."""

from datetime import date, datetime

from sqlalchemy import Select, or_
from sqlmodel import col, select

from housing.actors import Actor
from housing.incidents.models import ServiceIncident
from housing.registry.models import Building
from housing.registry.queries import visible_buildings


def current_in_buildings(actor: Actor, today: date, now: datetime) -> Select:
    """Incidents in the actor's buildings not over by `now`, with each building's address, soonest first."""
    buildings = visible_buildings(actor, today).with_only_columns(Building.id)
    return (
        select(ServiceIncident, Building.address)
        .join(Building, Building.id == ServiceIncident.building_id)
        .where(
            col(ServiceIncident.building_id).in_(buildings),
            or_(col(ServiceIncident.ended_at).is_(None), col(ServiceIncident.ended_at) > now),
        )
        .order_by(ServiceIncident.started_at, ServiceIncident.id)
    )
