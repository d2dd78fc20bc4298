"""Bulk seeding: a consistent city, repeatable batches, and demo logins that really work."""

from collections import defaultdict
from decimal import Decimal
from fractions import Fraction

import pytest
from sqlalchemy import Engine, func, or_
from sqlmodel import Session, select

from housing.accounts.models import User
from housing.building_money.models import BuildingExpense, SharedExpense
from housing.building_money.seeding import seed_demo_expenses
from housing.clock import local_today
from housing.errors import NotFound
from housing.registry.models import (
    Apartment,
    Building,
    BuildingManagement,
    District,
    ManagementCompany,
    Ownership,
    Person,
    Residence,
)
from housing.registry.seeding import TASHKENT, ensure_demo_city, reset_demo_users, seed_city
from tests.conftest import _wipe

TODAY = local_today("Asia/Tashkent")


def _current(model):
    return (model.valid_from <= TODAY) & or_(model.valid_until.is_(None), model.valid_until > TODAY)


def _count(engine: Engine, model) -> int:
    with Session(engine) as session:
        return session.exec(select(func.count()).select_from(model)).one()


def _check_city(engine: Engine) -> None:
    """What must hold however many batches were seeded."""
    with Session(engine) as session:
        shares: dict[int, Fraction] = defaultdict(Fraction)
        for apartment_id, numerator, denominator in session.exec(
            select(Ownership.apartment_id, Ownership.share_numerator, Ownership.share_denominator).where(
                _current(Ownership)
            )
        ):
            shares[apartment_id] += Fraction(numerator, denominator)
        apartment_ids = set(session.exec(select(Apartment.id)))
        assert set(shares) == apartment_ids
        assert all(total == 1 for total in shares.values())

        accounts = list(session.exec(select(Apartment.account_number)))
        assert len(accounts) == len(set(accounts))

        building_ids = set(session.exec(select(Building.id)))
        managed = list(
            session.exec(select(BuildingManagement.building_id).where(_current(BuildingManagement)))
        )
        assert sorted(managed) == sorted(building_ids)  # exactly one current manager each

        tax_ids = list(session.exec(select(ManagementCompany.tax_id)))
        assert len(tax_ids) == len(set(tax_ids)) and all(t.isdigit() and len(t) == 9 for t in tax_ids)
        pinfls = list(session.exec(select(Person.pinfl).where(Person.pinfl.is_not(None))))
        assert pinfls and len(pinfls) == len(set(pinfls))
        assert all(p.isdigit() and len(p) == 14 for p in pinfls)


def test_seed_city_writes_a_consistent_city(db):
    progress: list[int] = []

    summary = seed_city(db, apartments=500, on_progress=progress.append)

    assert "500 apartments" in summary
    assert progress[-1] == 500 and progress == sorted(progress)
    assert _count(db, Apartment) == 500
    _check_city(db)
    with Session(db) as session:
        districts = set(session.exec(select(District.name)))
        assert districts == {d.name for d in TASHKENT} and "Mirzo Ulug'bek" in districts
        assert _count(db, ManagementCompany) == 1  # one per ~600 apartments, at least one
        for building in session.exec(select(Building)):
            assert 4 <= building.floors <= 16
            assert 1960 <= building.year_built <= 2024
            assert 41.2 <= building.latitude <= 41.4 and 69.1 <= building.longitude <= 69.4
            assert building.address.endswith("-uy")
        sizes = session.exec(
            select(func.count()).select_from(Apartment).group_by(Apartment.building_id)
        ).all()
        assert all(20 <= size <= 120 for size in sizes)
        for apartment in session.exec(select(Apartment)):
            assert Decimal("28") <= apartment.area_m2 <= Decimal("120")
            assert apartment.area_m2 == apartment.area_m2.quantize(Decimal("0.01"))
            assert 1 <= apartment.rooms <= 5 and 0 <= apartment.registered_residents <= 6
        co_owned = session.exec(
            select(func.count()).select_from(Ownership).where(Ownership.share_denominator == 2)
        ).one()
        assert 0 < co_owned < 500  # some apartments have two owners, most have one
        assert session.exec(select(func.count()).select_from(Residence)).one() > 400


def test_a_second_run_adds_another_batch_without_collisions(db):
    seed_city(db, apartments=300, companies=2)
    seed_city(db, apartments=300, companies=2)

    assert _count(db, Apartment) == 600
    assert _count(db, District) == 12  # reused by name
    assert _count(db, ManagementCompany) == 4
    _check_city(db)


def test_the_same_seed_gives_the_same_city(db):
    def snapshot() -> list[tuple]:
        with Session(db) as session:
            return list(
                session.exec(
                    select(Building.address, Apartment.number, Apartment.area_m2, Apartment.account_number)
                    .join(Building, Building.id == Apartment.building_id)
                    .order_by(Apartment.account_number)
                )
            )

    seed_city(db, apartments=150, rng_seed=7)
    first = snapshot()
    _wipe(db)
    seed_city(db, apartments=150, rng_seed=7)

    assert snapshot() == first


def test_ensure_demo_city_seeds_only_an_empty_database(db):
    assert ensure_demo_city(db) is True
    assert _count(db, Apartment) == 3000
    assert _count(db, ManagementCompany) == 5
    assert 30 <= _count(db, Building) <= 70

    assert ensure_demo_city(db) is False
    assert _count(db, Apartment) == 3000


def _token(client, username: str, password: str):
    return client.post("/api/v1/auth/token", data={"username": username, "password": password})


def _bearer(client, username: str, password: str) -> dict[str, str]:
    response = _token(client, username, password)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def test_demo_users_log_in_and_see_their_scope(db, settings, client):
    seed_city(db, apartments=400, companies=2)

    logins = reset_demo_users(db, settings, password_for=lambda role: f"{role}-password-1")

    assert [(role, user) for role, user, _ in logins] == [
        ("admin", "demo-admin"),
        ("official", "demo-official"),
        ("manager", "demo-manager"),
        ("dispatcher", "demo-dispatcher"),
        ("technician", "demo-technician"),
        ("resident", "demo-resident"),
    ]
    headers = {role: _bearer(client, user, password) for role, user, password in logins}

    company_id = client.get("/api/v1/me", headers=headers["manager"]).json()["company_id"]
    assert company_id is not None
    with Session(db) as session:
        managed = set(
            session.exec(
                select(BuildingManagement.building_id).where(
                    BuildingManagement.company_id == company_id, _current(BuildingManagement)
                )
            )
        )
    assert 0 < len(managed) < _count(db, Building)
    page = client.get("/api/v1/buildings", params={"limit": 500}, headers=headers["manager"]).json()
    assert {b["id"] for b in page["items"]} == managed
    assert {b["company_id"] for b in page["items"]} == {company_id}
    city = client.get("/api/v1/buildings", headers=headers["official"]).json()
    assert city["total"] == _count(db, Building)

    homes = client.get("/api/v1/apartments", headers=headers["resident"]).json()
    assert homes["total"] >= 1
    assert {a["building_id"] for a in homes["items"]} <= managed


def test_resetting_demo_users_again_retires_the_old_passwords_and_tokens(db, settings, client):
    seed_city(db, apartments=100)
    first = reset_demo_users(db, settings, password_for=lambda role: f"{role}-first-pass")
    old_token = _bearer(client, "demo-manager", "manager-first-pass")

    second = reset_demo_users(db, settings, password_for=lambda role: f"{role}-second-pass")

    for (_, username, old), (_, same_username, new) in zip(first, second, strict=True):
        assert username == same_username
        assert _token(client, username, old).status_code == 401
        assert _token(client, username, new).status_code == 200
    assert client.get("/api/v1/me", headers=old_token).status_code == 401
    assert _count(db, User) == 6  # the same six users, not six more


def test_demo_users_need_a_seeded_city(db, settings):
    with pytest.raises(NotFound):
        reset_demo_users(db, settings, password_for=lambda role: f"{role}-password-1")


def test_the_demo_expenses_are_booked_once_and_add_up(db, settings):
    ensure_demo_city(db)
    reset_demo_users(db, settings, password_for=lambda role: f"{role}-password-1")
    assert "demo expenses booked" in seed_demo_expenses(db, settings)
    assert seed_demo_expenses(db, settings) == "demo expenses already there"
    with Session(db) as session:
        expenses = session.exec(select(BuildingExpense)).all()
        shared = session.exec(select(SharedExpense)).all()
    assert len(expenses) >= 7 and len(shared) == 1
    parts = [e.amount_minor for e in expenses if e.shared_expense_id == shared[0].id]
    assert len(parts) >= 2 and sum(parts) == shared[0].amount_minor
