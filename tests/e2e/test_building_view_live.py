"""The issue's browser test: a leak found from the simulator's readings appears on an open building view.

On PostgreSQL and the local Mosquitto: the building view is open in Chromium; the device
simulator publishes two days of readings with its leak fault; the ingest worker stores them;
the `detect-alerts` job runs as the scheduler would run it; the leaking apartment's cell
gets its leak mark within seconds, without the page being reloaded (the live stream).
"""

from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import func, select

from housing.accounts.models import Role
from housing.db import utcnow
from housing.registry.models import Apartment
from sensors.jobs import detect_alerts
from sensors.models import Alert, AlertKind, Measurement, Meter, Reading
from sensors.seeding import seed_meters
from sensors.simulator.devices import load_devices
from sensors.simulator.profiles import floor_step
from sensors.simulator.run import run_simulator
from tests.conftest import TEST_DATABASE_URL, make_settings
from tests.e2e import test_building_view
from tests.e2e.test_building_view import log_in
from tests.factories.core import make_apartment, make_building, make_company, make_user
from tests.integration.mqtt_helpers import BROKER, mqtt_test_config, wait_until, worker_thread

pytestmark = pytest.mark.skipif(
    not TEST_DATABASE_URL, reason="needs PostgreSQL (HOUSING_TEST_DATABASE_URL) and Mosquitto"
)

site = test_building_view.site  # a fixture, found by name
DAYS = 2  # simulated history: always covers the last night the leak rule looks at


@pytest.fixture
def settings(database_url, tmp_path):
    """Live looks twice a second; the MQTT topics, client ids and share group the test's own."""
    return make_settings(database_url, twin={"live_seconds": 0.5}, mqtt=mqtt_test_config(tmp_path))


@pytest.fixture
def building(session):
    company = make_company(session)
    building = make_building(session, company, floors=2)
    for number, (entrance, floor) in enumerate([(1, 1), (1, 2), (2, 1), (2, 2)], start=1):
        make_apartment(session, building, number=str(number), entrance=entrance, floor=floor)
    make_user(session, Role.dispatcher, username="dispatcher-live", company_id=company.id)
    session.commit()
    return building


def test_a_leak_from_the_simulator_appears_on_the_open_view(
    db, session, settings, site, building, page: Page, shot
):
    seed_meters(db, today=utcnow().date())
    log_in(page, site, "dispatcher-live")
    page.goto(f"{site}/buildings/{building.id}")
    cells = page.locator("#twin-live .cell")
    expect(cells).to_have_count(4)
    expect(page.locator("#twin-live .cell.mark-leak")).to_have_count(0)
    expect(page.locator("#twin-status")).to_have_text("Updates itself while open.")  # the stream is open
    page.evaluate("window.notReloaded = true")
    shot("before")

    config = settings.mqtt
    with worker_thread(db, config):
        summary = run_simulator(
            settings,
            rate=2000,
            start=floor_step(utcnow() - timedelta(days=DAYS)),
            faults=["leak"],
            host=BROKER[0],
            port=BROKER[1],
            protocol=5,
            engine=db,
            count=_messages_until_caught_up(db),
        )
        assert summary.acknowledged == summary.published

        def stored() -> bool:
            with db.connect() as connection:
                readings = connection.execute(select(func.count()).select_from(Reading)).scalar_one()
                measurements = connection.execute(select(func.count()).select_from(Measurement)).scalar_one()
            return readings == summary.readings and measurements == summary.measurements

        wait_until(stored, 60, "the simulated readings to be stored")

    outcome = detect_alerts(db, settings)  # the scheduler's job, as it runs it
    with db.connect() as connection:
        leaking = connection.execute(
            select(Apartment.id)
            .join(Meter, Meter.apartment_id == Apartment.id)
            .join(Alert, Alert.meter_id == Meter.id)
            .where(Alert.kind == AlertKind.leak, Alert.closed_at.is_(None))
        ).all()
    assert len(leaking) == 1, outcome
    [(apartment_id,)] = leaking

    mark = page.locator(f'#twin-live .cell.mark-leak[data-apartment="{apartment_id}"]')
    expect(mark).to_be_visible(timeout=10_000)
    expect(page.locator("#twin-live .cell.mark-leak")).to_have_count(1)
    assert page.evaluate("window.notReloaded") is True  # the same page, updated in place
    shot("leak")


def _messages_until_caught_up(engine) -> int:
    """Whole rounds from DAYS back to a quarter hour ago: the simulator never waits for the clock."""
    devices = len(load_devices(engine))
    rounds = DAYS * 24 * 4 - 2
    return devices * rounds
