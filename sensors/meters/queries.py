"""What each actor may see of meters, sensors and alerts, written once and used by every route.

Admins and officials see the city; company staff see the devices in the buildings their
company manages today; residents see the devices of the apartments they own or live in
today, not the building's common meters. The filters are plain functions of the actor;
`VisibleMeter` and `VisibleSensor` are the route dependencies built on them.
"""

from datetime import date
from typing import Annotated

from fastapi import Depends
from sqlalchemy import ColumnElement, Select, true
from sqlmodel import Session, select

from housing.actors import Actor
from housing.auth import CurrentActor
from housing.db import SessionDep
from housing.deps import Today
from housing.registry.queries import home_apartment_ids, managed_building_ids
from housing.routing import one_visible
from housing.validation import Id
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


# The loaders: a route that takes `meter: VisibleMeter` gets the meter of the path's
# {meter_id} if the actor may see it, else 404 (as if it did not exist, so ids do not
# leak). A route that also needs a role puts its guard first (in `dependencies=[...]` or
# as an earlier parameter), so a forbidden role is 403 before anything is loaded.
# FastAPI calls dependencies before it validates a route's own path, query and body
# fields; a route whose other inputs must be refused (422) before the lookup calls
# `visible_meter` itself after them.


def visible_meter(session: Session, actor: Actor, today: date, meter_id: int) -> Meter:
    return one_visible(session, visible_meters(actor, today), Meter, meter_id, "meter")


def _visible_meter(meter_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Meter:
    return visible_meter(session, actor, today, meter_id)


def _visible_sensor(sensor_id: Id, session: SessionDep, actor: CurrentActor, today: Today) -> Sensor:
    return one_visible(session, visible_sensors(actor, today), Sensor, sensor_id, "sensor")


VisibleMeter = Annotated[Meter, Depends(_visible_meter)]
VisibleSensor = Annotated[Sensor, Depends(_visible_sensor)]
