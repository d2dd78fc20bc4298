"""A small city with two companies and a user of every role, and a pending Stripe payment, for API tests."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from billing.models import PaymentStatus
from housing.accounts.models import Role
from housing.app import create_app
from housing.db import utcnow
from housing.i18n import LANGUAGE_COOKIE
from housing.registry.models import Apartment, Building, ManagementCompany
from housing.requests.models import RequestCategory, ServiceRequest
from tests.api.stripe_events import TOTAL
from tests.conftest import make_settings
from tests.factories.billing import make_billed_invoice, make_payment_attempt
from tests.factories.core import (
    PASSWORD,
    login,
    make_apartment,
    make_building,
    make_company,
    make_district,
    make_owner,
    make_user,
)
from tests.factories.requests import make_category, make_request
from tests.integration.stripe_helpers import webhooks_only_group
from tests.pages import log_in


@dataclass
class City:
    company_a: ManagementCompany
    company_b: ManagementCompany
    building_a: Building
    building_b: Building
    home: Apartment  # the resident's own apartment, in building A
    neighbour: Apartment  # same building, someone else's
    far_away: Apartment  # in building B
    resident_person_id: int
    neighbour_person_id: int
    category: RequestCategory
    home_request: ServiceRequest  # filed by the resident for their home, still new
    users: dict[str, int]
    headers: dict[str, dict[str, str]]


@pytest.fixture
def city(session: Session, client) -> City:
    district = make_district(session, name="Yunusobod")
    company_a = make_company(session, name="Yunusobod Servis")
    company_b = make_company(session, name="Chilonzor Uy-Joy")
    building_a = make_building(session, company_a, district_id=district.id)
    building_b = make_building(session, company_b, district_id=district.id)
    home = make_apartment(session, building_a, number="1")
    neighbour = make_apartment(session, building_a, number="2")
    far_away = make_apartment(session, building_b, number="1")
    resident = make_owner(session, home)
    neighbour_owner = make_owner(session, neighbour)
    make_owner(session, far_away)
    users = {
        "admin": make_user(session, Role.admin, username="admin"),
        "official": make_user(session, Role.official, username="official"),
        "manager": make_user(session, Role.manager, username="manager", company_id=company_a.id),
        "manager_b": make_user(session, Role.manager, username="manager_b", company_id=company_b.id),
        "dispatcher": make_user(session, Role.dispatcher, username="dispatcher", company_id=company_a.id),
        "technician": make_user(session, Role.technician, username="technician", company_id=company_a.id),
        "resident": make_user(session, Role.resident, username="resident", person_id=resident.id),
    }
    category = make_category(session, code="roof_leak", name="Roof leak")
    home_request = make_request(session, users["resident"], home, category, now=utcnow())
    session.commit()
    return City(
        company_a=company_a,
        company_b=company_b,
        building_a=building_a,
        building_b=building_b,
        home=home,
        neighbour=neighbour,
        far_away=far_away,
        resident_person_id=resident.id,
        neighbour_person_id=neighbour_owner.id,
        category=category,
        home_request=home_request,
        users={name: user.id for name, user in users.items()},
        headers={name: login(client, user.username) for name, user in users.items()},
    )


@pytest.fixture
def stripe_client(database_url, db):
    settings = make_settings(database_url, stripe=webhooks_only_group())
    with TestClient(create_app(settings, engine=db), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def pending(session: Session):
    """A card payment of the whole invoice, sent to Stripe as intent pi_home and not yet paid."""
    apartment = make_apartment(session)
    make_billed_invoice(session, apartment, TOTAL, period=date(2026, 10, 1))
    attempt = make_payment_attempt(
        session, apartment, amount_minor=TOTAL, external_id="pi_home", status=PaymentStatus.pending
    )
    session.commit()
    return attempt


@pytest.fixture
def browser_of(app, city) -> Iterator:
    """A logged-in page client per user name (each its own cookies), in English."""
    opened: list[TestClient] = []

    def open_as(username: str) -> TestClient:
        client = TestClient(app)
        client.__enter__()
        opened.append(client)
        client.cookies.set(LANGUAGE_COOKIE, "en")
        assert log_in(client, username, PASSWORD).status_code == 200
        return client

    yield open_as
    for client in opened:
        client.__exit__(None, None, None)
