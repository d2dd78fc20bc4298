"""A building with something of every kind on its view: marks on the grid, temperatures, a heat
meter, an incident, open requests, a debt and a grade. Plain functions that flush."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlmodel import Session

from housing.incidents.models import IncidentSource, ServiceIncident, Utility
from housing.registry.models import Apartment, Building
from housing.requests.models import ServiceRequest
from housing.twin.grading import DEBT_SHARE, INCIDENT_HOURS, Component, Grade
from housing.twin.models import BuildingGrade
from sensors.models import Alert, AlertKind, Measurement, MeterKind, Reading, ReadingSource, SensorKind
from tests.factories.billing import make_billed_invoice
from tests.factories.core import make_apartment, make_building
from tests.factories.requests import make_category, make_request, make_resident
from tests.factories.sensors import make_meter, make_sensor

# Well past October's due date (15 November), inside the heating season.
NOW = datetime(2026, 12, 2, 7, 30, tzinfo=UTC)


@dataclass
class TwinBuilding:
    building: Building
    apartments: dict[str, Apartment]  # by number
    leak: Apartment
    cold: Apartment
    silent: Apartment
    indebted: Apartment
    requested: Apartment
    unplaced: Apartment
    request: ServiceRequest  # an apartment's, open
    common_request: ServiceRequest  # about the common parts, open
    incident: ServiceIncident  # a building-wide hot-water outage going on
    resident_id: int  # the user who owns apartment "1" (no marks of its own)


def add_alert(session: Session, meter_id: int, kind: AlertKind, opened_at: datetime = NOW) -> Alert:
    alert = Alert(meter_id=meter_id, kind=kind, opened_at=opened_at - timedelta(hours=2), detail="test")
    session.add(alert)
    session.flush()
    return alert


def make_twin_building(
    session: Session, *, company=None, now: datetime = NOW, graded: bool = True
) -> TwinBuilding:
    """Two entrances of three floors with two apartments each (1..12), and apartment 99 unplaced."""
    building = make_building(session, company, floors=3) if company else make_building(session, floors=3)
    apartments: dict[str, Apartment] = {}
    number = 0
    for entrance in (1, 2):
        for floor in (1, 2, 3):
            for _ in range(2):
                number += 1
                apartments[str(number)] = make_apartment(
                    session, building, number=str(number), entrance=entrance, floor=floor
                )
    apartments["99"] = make_apartment(session, building, number="99")
    leak, cold, silent, indebted, requested = (apartments[n] for n in ("3", "5", "7", "9", "11"))
    add_alert(session, make_meter(session, leak).id, AlertKind.leak, now)
    add_alert(session, make_meter(session, silent).id, AlertKind.stale, now)
    closed = add_alert(session, make_meter(session, apartments["2"]).id, AlertKind.leak, now)
    closed.closed_at = now - timedelta(hours=1)  # over: no mark
    session.add(
        ServiceIncident(
            building_id=building.id,
            apartment_id=cold.id,
            utility=Utility.heating,
            source=IncidentSource.sensor,
            origin=f"sensor:cold-{cold.id}",
            started_at=now - timedelta(hours=3),
            deviation=Decimal("2.5"),
        )
    )
    incident = ServiceIncident(
        building_id=building.id,
        utility=Utility.hot_water,
        source=IncidentSource.sensor,
        origin=f"sensor:hw-{building.id}",
        started_at=now - timedelta(hours=5),
        deviation=Decimal("12"),
    )
    session.add(incident)
    make_billed_invoice(session, indebted, 12_345_00, period=date(2026, 10, 1))
    resident = make_resident(session, apartments["1"])
    neighbour = make_resident(session, requested)
    category = make_category(session)
    request = make_request(session, neighbour, requested, category, now=now - timedelta(hours=1))
    common_request = make_request(
        session, neighbour, requested, category, now=now - timedelta(hours=1), apartment_id=None
    )
    hot = make_sensor(session, building=building, kind=SensorKind.hot_water_temperature)
    rooms = [make_sensor(session, apartments[n], kind=SensorKind.indoor_temperature) for n in ("4", "6")]
    for hours_ago in range(1, 6):
        at = now - timedelta(hours=hours_ago)
        session.add(Measurement(sensor_id=hot.id, taken_at=at, value=Decimal("50.0"), received_at=at))
        for sensor, value in zip(rooms, ("20.0", "22.0"), strict=True):
            session.add(Measurement(sensor_id=sensor.id, taken_at=at, value=Decimal(value), received_at=at))
    heat = make_meter(session, building=building, kind=MeterKind.heat, serial=f"HEAT-{building.id}")
    for hours_ago, value in ((30, "100.000"), (6, "101.000"), (1, "101.500")):
        at = now - timedelta(hours=hours_ago)
        session.add(
            Reading(
                meter_id=heat.id, taken_at=at, value=Decimal(value), source=ReadingSource.mqtt, received_at=at
            )
        )
    if graded:
        components = [
            Component(INCIDENT_HOURS, 5.0, {"apartment_hours": 60, "apartments": 13}, Grade.yellow).as_json(),
            Component(DEBT_SHARE, 0.08, {"debtors": 1, "apartments": 13}, Grade.green).as_json(),
        ]
        session.add(
            BuildingGrade(
                building_id=building.id,
                grade=Grade.yellow,
                components=components,
                graded_on=date(2026, 12, 1),
                graded_at=now - timedelta(hours=6),
                since=date(2026, 11, 20),
            )
        )
    session.flush()
    return TwinBuilding(
        building=building,
        apartments=apartments,
        leak=leak,
        cold=cold,
        silent=silent,
        indebted=indebted,
        requested=requested,
        unplaced=apartments["99"],
        request=request,
        common_request=common_request,
        incident=incident,
        resident_id=resident.id,
    )
