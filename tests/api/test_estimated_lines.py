"""An estimated month and its recalculation, as the JSON API and the invoice page say them, in words.

The resident's hot-water meter reports every 12 hours, falls silent from 1 September and is
back at noon on 1 October: September is billed by the meter's average, October by its
readings with its first 12 hours estimated, plus a line recalculating September.
"""

import html
import re
from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from billing.models import Basis, Invoice
from billing.runs.service import run_billing
from billing.tariffs.pricing import Tier
from housing.i18n import LANGUAGE_COOKIE
from sensors.models import Meter, MeterKind
from tests.api.conftest import City
from tests.factories.billing import make_service, make_tariff
from tests.factories.core import PASSWORD
from tests.factories.readings import add_readings, make_meter
from tests.pages import log_in

API = "/api/v1"
TASHKENT = ZoneInfo("Asia/Tashkent")
START = datetime(2026, 5, 1, tzinfo=TASHKENT)
SILENT = (datetime(2026, 9, 1, 0, 1, tzinfo=TASHKENT), datetime(2026, 10, 1, 12, tzinfo=TASHKENT))
LONG_DECIMALS = re.compile(r"\d\.\d{7,}")  # a number no person should be shown


def readings(until: datetime) -> list[tuple[datetime, Decimal]]:
    rows, at = [], START
    while at < until:
        if not SILENT[0] <= at < SILENT[1]:
            rows.append((at, Decimal(100) + Decimal("0.0213") * Decimal((at - START) // timedelta(hours=1))))
        at += timedelta(hours=12)
    return rows


@pytest.fixture
def meter(session: Session, city: City) -> Meter:
    """The resident's hot-water meter, its readings up to the September run stored."""
    water = make_service(
        session, code="hot_water", name="Hot water", unit="m3", meter_kind=MeterKind.hot_water
    )
    make_tariff(session, water, tiers=[Tier(up_to=None, price_minor=Decimal(900_000))])
    make_tariff(
        session, water, basis=Basis.per_person, tiers=[Tier(up_to=None, price_minor=Decimal(6_000_000))]
    )
    meter = make_meter(
        session,
        apartment=city.home,
        kind=MeterKind.hot_water,
        installed_on=date(2026, 5, 1),
        initial_value=Decimal(100),
    )
    add_readings(session, meter, readings(datetime(2026, 10, 1, 2, tzinfo=TASHKENT)))
    session.commit()
    return meter


@pytest.fixture
def october(session: Session, city: City, meter: Meter) -> Invoice:
    run_billing(session, period=date(2026, 9, 1), today=date(2026, 10, 1), apartment_ids=[city.home.id])
    add_readings(session, meter, readings(datetime(2026, 11, 1, 2, tzinfo=TASHKENT))[-62:])
    run_billing(session, period=date(2026, 10, 1), today=date(2026, 11, 1), apartment_ids=[city.home.id])
    session.commit()
    return session.exec(
        select(Invoice).where(Invoice.apartment_id == city.home.id, Invoice.period == date(2026, 10, 1))
    ).one()


def test_the_api_says_in_the_readers_language_what_each_line_is(client, city: City, october: Invoice):
    headers = city.headers["resident"]

    english = client.get(f"{API}/invoices/{october.id}", headers=headers | {"Accept-Language": "en"})
    russian = client.get(f"{API}/invoices/{october.id}", headers=headers | {"Accept-Language": "ru"})

    assert english.status_code == 200, english.text
    metered, settling = english.json()["lines"]
    assert metered["quantity_source"] == "metered_estimated"
    assert metered["explanation"]["estimated_hours"] == "12.0"
    assert metered["source_text"] == (
        "by your meter's readings, but the meter was silent at the month's start or end:"
        " 12 hours of it are estimated"
    )
    assert settling["quantity_source"] == "recalculation"
    assert settling["explanation"]["months"] == ["2026-09"]
    assert settling["source_text"] == (
        "recalculation of September 2026 by the meter's readings, less what was billed for them by estimate"
    )
    ru_metered, ru_settling = russian.json()["lines"]
    assert "12 ч из него оценены" in ru_metered["source_text"]
    assert ru_settling["source_text"].startswith("перерасчёт за сентябрь 2026")
    # Every figure is rounded for people: no 30-digit boundary values or tier subtotals.
    assert not LONG_DECIMALS.search(english.text), LONG_DECIMALS.search(english.text)


def test_september_says_it_was_the_average_and_the_api_never_calls_it_metered(
    client, session: Session, city: City, october: Invoice
):
    september = session.exec(
        select(Invoice).where(Invoice.apartment_id == city.home.id, Invoice.period == date(2026, 9, 1))
    ).one()

    read = client.get(
        f"{API}/invoices/{september.id}", headers=city.headers["resident"] | {"Accept-Language": "en"}
    )

    [line] = read.json()["lines"]
    assert line["quantity_source"] == "average"
    assert line["source_text"] == "by the meter's average month (too few readings this month)"
    assert "no reading within 24 hours" in line["explanation"]["why"]


def test_the_invoice_page_names_the_estimate_and_the_recalculated_month(client, october: Invoice):
    assert log_in(client, "resident", PASSWORD).status_code == 200
    client.cookies.set(LANGUAGE_COOKIE, "en")

    page = client.get(f"/invoices/{october.id}")

    assert page.status_code == 200
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.text)))
    assert "12 hours of it are estimated" in text
    assert "recalculation of September 2026 by the meter's readings" in text
    assert "2026-09: the meter shows" in text
    assert not LONG_DECIMALS.search(text)
    client.cookies.set(LANGUAGE_COOKIE, "uz")
    uzbek = html.unescape(client.get(f"/invoices/{october.id}").text)
    assert "soati taxminan hisoblangan" in uzbek


def test_one_meters_preview_says_what_the_run_will_bill(client, session: Session, city: City, meter: Meter):
    url = f"{API}/meters/{meter.id}/billing-preview"
    resident = city.headers["resident"] | {"Accept-Language": "en"}

    september = client.get(url, params={"period": "2026-09"}, headers=resident)
    unfinished = client.get(url, params={"period": "2099-01"}, headers=resident)
    stranger = client.get(url, params={"period": "2026-09"}, headers=city.headers["manager_b"])

    assert september.status_code == 200, september.text
    body = september.json()
    assert (body["service"], body["quantity_source"], body["average_period"]) == ("hot_water", "average", 1)
    assert body["source_text"] == "by the meter's average month (too few readings this month)"
    assert "no reading within 24 hours of 2026-10-01" in body["why"]
    run_billing(session, period=date(2026, 9, 1), today=date(2026, 10, 1), apartment_ids=[city.home.id])
    session.commit()
    [line] = client.get(
        f"{API}/invoices", params={"period": "2026-09", "apartment_id": city.home.id}, headers=resident
    ).json()["items"]
    billed = client.get(f"{API}/invoices/{line['id']}", headers=resident).json()["lines"][0]
    assert (billed["quantity_source"], billed["quantity"]) == ("average", body["quantity"])
    assert unfinished.status_code == 422
    assert "2099-01" in unfinished.text  # the problem names the month not yet over
    assert stranger.status_code == 404
    assert "hot_water" not in stranger.text and "quantity" not in stranger.text  # nothing of the meter
