"""What each actor may see of meters, sensors and alerts, written once and used by every route.

Admins and officials see the city; company staff see the devices in the buildings their
company manages today; residents see the devices of the apartments they own or live in
today, not the building's common meters.
"""

from datetime import date

from sqlalchemy import ColumnElement, Select, true
from sqlmodel import select

from housing.actors import Actor
from housing.registry.queries import home_apartment_ids, managed_building_ids
from sensors.models import Alert, Meter, Sensor


def _scope(actor: Actor, today: date, building_id: ColumnElement, apartment_id: ColumnElement):
    if actor.sees_whole_city:
        return true()
    if actor.is_company_staff:
        return building_id.in_(managed_building_ids(actor.company_id, today))
    homes = home_apartment_ids(actor.person_id, today).subquery()
    return apartment_id.in_(select(homes.c.apartment_id))


def visible_meters(actor: Actor, today: date) -> Select:
    return select(Meter).where(_scope(actor, today, Meter.building_id, Meter.apartment_id))


def visible_sensors(actor: Actor, today: date) -> Select:
    return select(Sensor).where(_scope(actor, today, Sensor.building_id, Sensor.apartment_id))


def visible_alerts(actor: Actor, today: date) -> Select:
    """Alerts of the meters the actor sees (the routes let only staff and officials ask)."""
    return (
        select(Alert)
        .join(Meter, Meter.id == Alert.meter_id)
        .where(_scope(actor, today, Meter.building_id, Meter.apartment_id))
    )
