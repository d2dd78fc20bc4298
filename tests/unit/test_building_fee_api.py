"""`GET /api/v1/buildings/{id}/management-fees`: a building's decided fees, to whoever sees the building."""

import html
import re
from datetime import date

from fastapi.testclient import TestClient
from sqlmodel import Session, select

from billing.models import Invoice
from billing.runs.service import run_billing
from housing.accounts.models import Role
from housing.i18n import LANGUAGE_COOKIE
from housing.meetings.rules import DecisionKind
from housing.registry.service import change_management
from tests.conftest import FrozenClock
from tests.factories.core import (
    PASSWORD,
    login,
    make_apartment,
    make_building,
    make_company,
    make_owner,
    make_user,
)
from tests.factories.decisions import make_decision
from tests.pages import log_in


def test_a_buildings_decided_fees_with_their_days_and_company(
    frozen_clock: FrozenClock, session: Session, client: TestClient
) -> None:
    """On 1 November 2026 (the frozen clock) the old company still manages the building."""
    old, new, other = make_company(session), make_company(session), make_company(session)
    building = make_building(session, old)
    first = make_decision(
        session,
        building,
        kind=DecisionKind.management_fee,
        effective_from=date(2026, 3, 1),
        fee_minor=250_000,
    )
    second = make_decision(
        session,
        building,
        kind=DecisionKind.management_fee,
        effective_from=date(2026, 12, 1),
        fee_minor=220_000,
    )
    change_management(session, building, company_id=new.id, valid_from=date(2026, 12, 1))
    staff_of = {c.id: make_user(session, Role.manager, company_id=c.id) for c in (old, other)}
    admin = make_user(session, Role.admin)
    session.commit()

    response = client.get(
        f"/api/v1/buildings/{building.id}/management-fees", headers=login(client, admin.username)
    )

    assert response.status_code == 200
    assert response.json() == [
        {
            "decision_id": first.id,
            "company_id": old.id,
            "valid_from": "2026-03-01",
            "valid_until": "2026-12-01",
            "price": "2500.00",
            "price_minor": 250_000,
        },
        {
            "decision_id": second.id,
            "company_id": new.id,
            "valid_from": "2026-12-01",
            "valid_until": None,
            "price": "2200.00",
            "price_minor": 220_000,
        },
    ]
    assert (
        client.get(
            f"/api/v1/buildings/{building.id}/management-fees",
            headers=login(client, staff_of[old.id].username),
        ).status_code
        == 200
    )
    hidden = client.get(
        f"/api/v1/buildings/{building.id}/management-fees", headers=login(client, staff_of[other.id].username)
    )
    assert hidden.status_code == 404
    assert (
        client.get(
            "/api/v1/buildings/999999/management-fees", headers=login(client, admin.username)
        ).status_code
        == 404
    )


def test_the_invoice_page_says_the_owners_decided_the_fee(
    frozen_clock: FrozenClock, session: Session, client: TestClient, tashkent_tariffs: None
) -> None:
    building = make_building(session)
    flat = make_apartment(session, building)
    owner = make_owner(session, flat)
    resident = make_user(session, Role.resident, person_id=owner.id)
    make_decision(
        session,
        building,
        kind=DecisionKind.management_fee,
        effective_from=date(2026, 10, 1),
        fee_minor=250_000,
    )
    run_billing(session, period=date(2026, 10, 1), today=date(2026, 11, 1))
    session.commit()
    invoice = session.exec(select(Invoice).where(Invoice.apartment_id == flat.id)).one()
    assert log_in(client, resident.username, PASSWORD).status_code == 200
    client.cookies.set(LANGUAGE_COOKIE, "en")

    page = client.get(f"/invoices/{invoice.id}")

    assert page.status_code == 200
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page.text)))
    assert "Management fee decided by the building's owners: UZS2,500.00 a m²." in text
