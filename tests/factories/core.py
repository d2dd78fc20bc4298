"""Plain factory functions: each makes one row with sensible defaults and flushes."""

import itertools
from datetime import date
from decimal import Decimal
from fractions import Fraction

from fastapi.testclient import TestClient
from sqlmodel import Session

from housing.accounts.models import Role, User
from housing.accounts.passwords import Passwords
from housing.accounts.service import create_user
from housing.registry import service
from housing.registry.models import Apartment, Building, District, ManagementCompany, Person

PASSWORD = "correct horse battery"
_seq = itertools.count(1)
_passwords = Passwords(time_cost=1, memory_kib=64)


def make_district(session: Session, **kw) -> District:
    return service.create_district(session, name=kw.get("name", f"District {next(_seq)}"), city="Tashkent")


def make_company(session: Session, **kw) -> ManagementCompany:
    n = next(_seq)
    fields = {"name": f"Company {n}", "tax_id": f"{300000000 + n}"} | kw
    return service.create_company(session, **fields)


def make_building(session: Session, company: ManagementCompany | None = None, **kw) -> Building:
    company = company or make_company(session)
    district_id = kw.pop("district_id", None) or make_district(session).id
    managed_from = kw.pop("managed_from", date(2020, 1, 1))
    fields = {
        "address": f"Amir Temur ko'chasi {next(_seq)}",
        "district_id": district_id,
        "latitude": 41.31,
        "longitude": 69.28,
        "floors": 9,
    } | kw
    return service.create_building(session, company_id=company.id, managed_from=managed_from, **fields)


def make_apartment(session: Session, building: Building | None = None, **kw) -> Apartment:
    building = building or make_building(session)
    n = next(_seq)
    fields = {
        "building_id": building.id,
        "number": str(n),
        "area_m2": Decimal("54.30"),
        "registered_residents": 3,
        "account_number": f"{10000000 + n}",
    } | kw
    return service.create_apartment(session, **fields)


def make_person(session: Session, **kw) -> Person:
    return service.create_person(session, **({"full_name": f"Resident {next(_seq)}"} | kw))


def make_owner(session: Session, apartment: Apartment, share: str = "1", **kw) -> Person:
    person = make_person(session, **kw)
    service.add_ownership(
        session,
        apartment_id=apartment.id,
        person_id=person.id,
        share=Fraction(share),
        valid_from=date(2020, 1, 1),
    )
    return person


def make_user(session: Session, role: Role, **kw) -> User:
    return create_user(
        session,
        passwords=_passwords,
        username=kw.pop("username", f"{role.value}{next(_seq)}"),
        password=kw.pop("password", PASSWORD),
        role=role,
        **kw,
    )


def login(client: TestClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    response = client.post("/api/v1/auth/token", data={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}
