"""A building's fingerprint moves with each change its view shows, and only then."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from sqlmodel import select

from billing.models import LedgerKind
from housing.requests.models import RequestStatus
from housing.twin.changes import LedgerCursor, fingerprints
from housing.twin.models import BuildingGrade
from sensors.models import Alert, AlertKind, Measurement, Sensor, SensorKind
from tests.factories.billing import make_ledger_entry
from tests.factories.core import make_building
from tests.factories.sensors import make_meter
from tests.factories.twin import NOW, add_alert, make_twin_building

TODAY = date(2026, 12, 2)


@pytest.fixture
def twin(session):
    made = make_twin_building(session)
    session.commit()
    return made


@pytest.fixture
def look(session, twin):
    cursor = LedgerCursor()

    def take(now=NOW, today=TODAY) -> str:
        session.expire_all()
        return fingerprints(session, [twin.building.id], now, today, cursor)[twin.building.id]

    take()  # the cursor's first look
    return take


def _alert(session, twin):
    return add_alert(session, make_meter(session, twin.apartments["8"]).id, AlertKind.leak)


CHANGES = {
    "an alert opens": _alert,
    "an alert closes": lambda s, t: setattr(
        s.exec(select(Alert).where(Alert.kind == AlertKind.leak, Alert.closed_at.is_(None))).first(),
        "closed_at",
        NOW,
    ),
    "a request moves on": lambda s, t: setattr(t.request, "status", RequestStatus.accepted),
    "an incident ends": lambda s, t: setattr(t.incident, "ended_at", NOW - timedelta(minutes=1)),
    "a measurement in a new hour": lambda s, t: s.add(
        Measurement(
            sensor_id=s.exec(
                select(Sensor.id).where(Sensor.kind == SensorKind.hot_water_temperature)
            ).first(),
            taken_at=NOW.replace(minute=5),
            value=Decimal("60"),
            received_at=NOW,
        )
    ),
    "the grade is written again": lambda s, t: setattr(
        s.get(BuildingGrade, t.building.id), "graded_at", NOW - timedelta(minutes=5)
    ),
    "a payment is booked": lambda s, t: make_ledger_entry(
        s, t.indebted, kind=LedgerKind.payment, amount_minor=-100, occurred_at=NOW
    ),
}


@pytest.mark.parametrize("change", CHANGES)
def test_each_change_moves_the_fingerprint(session, twin, look, change):
    before = look()
    assert look() == before  # nothing changed: the same, however often it is taken
    CHANGES[change](session, twin)
    session.commit()
    assert look() != before


def test_a_measurement_within_the_hour_already_drawn_does_not(session, twin, look):
    hot = session.exec(select(Sensor.id).where(Sensor.kind == SensorKind.hot_water_temperature)).first()
    session.add(
        Measurement(sensor_id=hot, taken_at=NOW.replace(minute=5), value=Decimal(60), received_at=NOW)
    )
    session.commit()
    before = look()
    session.add(
        Measurement(sensor_id=hot, taken_at=NOW.replace(minute=20), value=Decimal(61), received_at=NOW)
    )
    session.commit()
    assert look() == before


def test_the_clock_moves_it_only_while_something_goes_on(session, twin, look):
    assert look(NOW) != look(NOW + timedelta(minutes=15))  # an outage's hours grow
    assert look(NOW) == look(NOW + timedelta(minutes=5))
    quiet = make_building(session)
    session.commit()
    cursor = LedgerCursor()
    first = fingerprints(session, [quiet.id], NOW, TODAY, cursor)
    assert fingerprints(session, [quiet.id], NOW + timedelta(hours=3), TODAY, cursor) == first
    assert fingerprints(session, [quiet.id], NOW, TODAY + timedelta(days=1), cursor) != first  # a new day


def test_many_buildings_in_one_look_and_a_missing_one_left_out(session, twin):
    other = make_twin_building(session, graded=False)
    session.commit()
    prints = fingerprints(session, [twin.building.id, other.building.id, 10**9], NOW, TODAY, LedgerCursor())
    assert set(prints) == {twin.building.id, other.building.id}
    assert prints[twin.building.id] != prints[other.building.id]
    assert fingerprints(session, [], NOW, TODAY, LedgerCursor()) == {}
