"""Who reads a building's money, written once: every page, API route and document download asks here.

A building's account, its expenses (their documents included) and its reports are read by
the building's residents (owners and registered tenants), the staff of the company managing
it, admins and officials: exactly the buildings `housing.registry.queries.visible_buildings`
shows the actor today. Outside that, a building is not found (404), so ids do not leak.
"""

from datetime import date

from sqlmodel import Session

from housing.actors import Actor
from housing.errors import NotFound
from housing.registry.models import Building
from housing.registry.queries import visible_buildings


def readable_buildings(actor: Actor, today: date):
    """The buildings whose money `actor` reads (a select of Building)."""
    return visible_buildings(actor, today)


def require_money_reader(session: Session, actor: Actor, building_id: int, today: date) -> Building:
    """The building if `actor` reads its money; otherwise 404."""
    building = (
        session.exec(readable_buildings(actor, today).where(Building.id == building_id)).first()
        if 0 < building_id < 2**31
        else None
    )
    if building is None:
        raise NotFound(f"building {building_id} not found")
    return building
