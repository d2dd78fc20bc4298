"""Invoices, balances and billing runs through the API, each actor within their scope."""

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from billing.models import Basis, Invoice, LedgerEntry
from billing.runs.service import run_billing
from billing.tariffs.pricing import Tier
from tests.api.conftest import City
from tests.factories.billing import make_service, make_tariff

API = "/api/v1"
OCTOBER = "2026-10"
FEE_MINOR = 5_430_000  # 54.30 m2 x 1,000 UZS


@pytest.fixture
def fee(session: Session, city: City) -> None:
    """A city-wide management fee of 1,000 UZS per m2 from May 2025."""
    fee = make_service(session, code="management", name="Management fee", unit="m2")
    make_tariff(session, fee, basis=Basis.per_m2, tiers=[Tier(up_to=None, price_minor=Decimal(100_000))])
    session.commit()


@pytest.fixture
def billed(session: Session, city: City, fee: None) -> None:
    """October 2026 billed for every apartment."""
    summary = run_billing(session, period=date(2026, 10, 1), today=date(2026, 11, 1))
    assert summary.issued == 3
    session.commit()


def invoice_of(session: Session, apartment_id: int) -> Invoice:
    return session.exec(select(Invoice).where(Invoice.apartment_id == apartment_id)).one()


def count(session: Session, model) -> int:
    return session.exec(select(func.count()).select_from(model)).one()


def problem(response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return response.json()


def test_a_resident_sees_their_invoice_with_its_lines_and_not_the_neighbours(
    client, session: Session, city: City, billed: None
):
    own = invoice_of(session, city.home.id)
    theirs = invoice_of(session, city.neighbour.id)
    headers = city.headers["resident"]

    listed = client.get(f"{API}/invoices", headers=headers)
    assert listed.status_code == 200, listed.text
    assert [i["id"] for i in listed.json()["items"]] == [own.id]
    assert listed.json()["total"] == 1

    read = client.get(f"{API}/invoices/{own.id}", headers=headers)
    assert read.status_code == 200, read.text
    body = read.json()
    assert body["total_minor"] == FEE_MINOR
    assert body["status"] == "issued"
    [line] = body["lines"]
    assert line["basis"] == "per_m2"
    assert line["quantity_source"] == "area"
    assert Decimal(line["quantity"]) == Decimal("54.30")
    assert line["amount_minor"] == FEE_MINOR
    assert line["deduction_minor"] == 0
    assert line["explanation"]["source"] == "area"

    assert problem(client.get(f"{API}/invoices/{theirs.id}", headers=headers), 404)
    assert problem(client.get(f"{API}/apartments/{city.neighbour.id}/balance", headers=headers), 404)


def test_staff_see_their_company_and_officials_the_city(client, session: Session, city: City, billed: None):
    far = invoice_of(session, city.far_away.id)
    managed = client.get(f"{API}/invoices", headers=city.headers["manager"]).json()
    assert {i["apartment_id"] for i in managed["items"]} == {city.home.id, city.neighbour.id}
    assert problem(client.get(f"{API}/invoices/{far.id}", headers=city.headers["manager"]), 404)
    city_wide = client.get(f"{API}/invoices", params={"period": OCTOBER}, headers=city.headers["official"])
    assert city_wide.json()["total"] == 3
    filtered = client.get(
        f"{API}/invoices",
        params={"apartment_id": city.far_away.id, "status": "issued"},
        headers=city.headers["official"],
    )
    assert [i["id"] for i in filtered.json()["items"]] == [far.id]
    other_month = client.get(f"{API}/invoices", params={"period": "2026-09"}, headers=city.headers["admin"])
    assert other_month.json()["total"] == 0


def test_the_balance_after_the_run_is_the_invoice_total(client, session: Session, city: City, billed: None):
    response = client.get(f"{API}/apartments/{city.home.id}/balance", headers=city.headers["resident"])
    assert response.status_code == 200, response.text
    assert response.json() == {
        "apartment_id": city.home.id,
        "balance_minor": invoice_of(session, city.home.id).total_minor,
        "currency": "UZS",
        "debt": True,
        "credit_minor": 0,
    }
    assert response.json()["balance_minor"] == FEE_MINOR


def test_an_official_may_not_start_a_run(client, session: Session, city: City, fee: None):
    response = client.post(
        f"{API}/billing/runs", json={"period": OCTOBER, "dry_run": False}, headers=city.headers["official"]
    )
    assert problem(response, 403)
    assert count(session, Invoice) == 0


def test_a_dry_run_lists_the_invoices_and_writes_nothing(client, session: Session, city: City, fee: None):
    response = client.post(f"{API}/billing/runs", json={"period": OCTOBER}, headers=city.headers["admin"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True
    assert body["issued"] == 3
    assert body["total_minor"] == 3 * FEE_MINOR
    assert {i["apartment_id"] for i in body["invoices"]} == {
        city.home.id,
        city.neighbour.id,
        city.far_away.id,
    }
    assert all(i["total_minor"] == FEE_MINOR and i["number"].startswith("2026-") for i in body["invoices"])
    assert count(session, Invoice) == 0
    assert count(session, LedgerEntry) == 0


def test_a_real_run_issues_the_invoices_once(client, session: Session, city: City, fee: None):
    body = {"period": OCTOBER, "dry_run": False}
    first = client.post(f"{API}/billing/runs", json=body, headers=city.headers["admin"])
    assert first.status_code == 200, first.text
    assert first.json()["issued"] == 3
    assert first.json()["invoices"] == []
    again = client.post(f"{API}/billing/runs", json=body, headers=city.headers["admin"])
    assert again.json()["issued"] == 0
    assert count(session, Invoice) == 3
    balance = client.get(f"{API}/apartments/{city.home.id}/balance", headers=city.headers["resident"])
    assert balance.json()["balance_minor"] == FEE_MINOR


@pytest.mark.parametrize("period", ["2026-13", "2026-1", "October", "2026-10-01"])
def test_a_malformed_period_is_422_naming_period(client, city: City, period: str):
    posted = client.post(f"{API}/billing/runs", json={"period": period}, headers=city.headers["admin"])
    assert problem(posted, 422)["field"] == "period"
    listed = client.get(f"{API}/invoices", params={"period": period}, headers=city.headers["admin"])
    assert problem(listed, 422)["field"] == "period"


def test_a_month_that_has_not_ended_cannot_be_billed(client, city: City):
    response = client.post(f"{API}/billing/runs", json={"period": "2099-01"}, headers=city.headers["admin"])
    assert problem(response, 422)["field"] == "period"
