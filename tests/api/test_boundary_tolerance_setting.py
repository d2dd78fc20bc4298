"""HOUSING_METERS__BOUNDARY_TOLERANCE_HOURS is read in one place and every consumer follows it:
the monthly job, the consumption API and the one-meter billing preview.

The meter's last reading is 30 hours before 1 October: past the default day, within 48 hours.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from billing.jobs import monthly_billing
from billing.models import Invoice, InvoiceLine, QuantitySource, Service
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing.settings import Settings
from sensors.models import Meter, MeterKind
from tests.api.conftest import City
from tests.conftest import make_settings
from tests.factories.readings import add_readings, make_meter

API = "/api/v1"
TASHKENT = ZoneInfo("Asia/Tashkent")
START = datetime(2026, 5, 1, tzinfo=TASHKENT)
LAST = datetime(2026, 9, 29, 18, tzinfo=TASHKENT)  # 30 hours before 1 October


@pytest.fixture(params=[None, 48], ids=["default", "48 hours"])
def tolerance(request) -> int | None:
    return request.param


@pytest.fixture
def settings(database_url: str, tolerance: int | None) -> Settings:
    meters = {} if tolerance is None else {"boundary_tolerance_hours": tolerance}
    return make_settings(database_url, meters=meters)


@pytest.fixture
def meter(db: Engine, session: Session, city: City) -> Meter:
    seed_tashkent_tariffs(db)
    meter = make_meter(
        session,
        apartment=city.home,
        kind=MeterKind.hot_water,
        installed_on=date(2026, 5, 1),
        initial_value=100,
    )
    rows, at = [], START
    while at <= LAST:
        rows.append((at, Decimal(100) + Decimal("0.02") * Decimal((at - START) // timedelta(hours=1))))
        at += timedelta(hours=6)
    add_readings(session, meter, rows)
    session.commit()
    return meter


def test_every_consumer_follows_the_boundary_tolerance(
    client, db: Engine, session: Session, settings: Settings, city: City, meter: Meter, tolerance: int | None
):
    expected = "average" if tolerance is None else "metered_estimated"
    headers = city.headers["manager"]

    consumption = client.get(
        f"{API}/meters/{meter.id}/consumption",
        params={"start": "2026-09-01T00:00:00+05:00", "end": "2026-10-01T00:00:00+05:00"},
        headers=headers,
    ).json()
    preview = client.get(
        f"{API}/meters/{meter.id}/billing-preview", params={"period": "2026-09"}, headers=headers
    ).json()
    monthly_billing(db, settings, today=date(2026, 10, 1))

    water = session.exec(select(Service.id).where(Service.code == "hot_water")).one()
    line = session.exec(
        select(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(Invoice.apartment_id == city.home.id, InvoiceLine.service_id == water)
    ).one()
    assert line.quantity_source == QuantitySource(expected)
    assert preview["quantity_source"] == expected
    if tolerance is None:
        assert consumption["label"] == "insufficient"
        assert "no reading within 24 hours" in consumption["reason"]
    else:
        assert (consumption["label"], consumption["estimated_hours"]) == ("metered_estimated", "30.0")
        assert line.explanation["estimated_hours"] == preview["estimated_hours"] == "30.0"
        assert line.quantity == Decimal(consumption["quantity"]) == Decimal(preview["quantity"])
