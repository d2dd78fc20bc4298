"""Instalment plans through the API and the pages: who reads, who agrees and cancels, what a
refusal says (and that it stores nothing), what the resident and the invoice show."""

from datetime import timedelta

import pytest
from sqlmodel import Session, func, select

from billing.models import InstalmentPlan
from housing import clock
from housing.registry.models import PersonKind
from tests.api.conftest import City
from tests.factories.billing import make_billed_invoice
from tests.factories.core import login, make_apartment, make_owner
from tests.pages import csrf_token, submit

API = "/api/v1"


@pytest.fixture
def debt(session: Session, city: City) -> int:
    """October's 1,000,000 tiyin unpaid on the resident's home; the invoice's id."""
    invoice = make_billed_invoice(session, city.home, 1_000_000)
    session.commit()
    return invoice.id


def schedule(*amounts: int) -> list[dict]:
    today = clock.local_today("Asia/Tashkent")
    return [
        {"due_on": (today + timedelta(days=30 * n)).isoformat(), "amount_minor": amount}
        for n, amount in enumerate(amounts, start=1)
    ]


def plans(session: Session) -> int:
    session.expire_all()
    return session.exec(select(func.count()).select_from(InstalmentPlan)).one()


def test_a_manager_agrees_a_plan_the_resident_reads_it_and_others_do_not(client, city: City, debt, session):
    path = f"{API}/apartments/{city.home.id}/instalment-plans"
    refused = {
        "resident": 403,
        "dispatcher": 403,
        "official": 403,
        "manager_b": 404,
    }
    for user, status in refused.items():
        response = client.post(path, json={"schedule": schedule(1_000_000)}, headers=login(client, user))
        assert response.status_code == status, (user, response.text)
    assert plans(session) == 0

    manager = city.headers["manager"]
    created = client.post(
        path, json={"schedule": schedule(600_000, 400_000), "note": "by phone"}, headers=manager
    )
    assert created.status_code == 201, created.text
    plan = created.json()
    assert (plan["status"], plan["standing"], plan["covered_minor"], plan["invoice_ids"]) == (
        "active",
        "active",
        1_000_000,
        [debt],
    )
    assert [i["amount_minor"] for i in plan["instalments"]] == [600_000, 400_000]

    resident = city.headers["resident"]
    assert client.get(path, headers=resident).json()[0]["id"] == plan["id"]
    assert client.get(f"{API}/instalment-plans/{plan['id']}", headers=resident).status_code == 200
    assert (
        client.get(f"{API}/instalment-plans/{plan['id']}", headers=city.headers["manager_b"]).status_code
        == 404
    )
    assert client.post(f"{API}/instalment-plans/{plan['id']}/cancel", headers=resident).status_code == 403

    again = client.post(path, json={"schedule": schedule(1_000_000)}, headers=manager)
    assert again.status_code == 409
    cancelled = client.post(f"{API}/instalment-plans/{plan['id']}/cancel", headers=manager)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert client.post(f"{API}/instalment-plans/{plan['id']}/cancel", headers=manager).status_code == 409


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"schedule": schedule(999_999)}, "schedule"),
        ({"schedule": schedule(0, 1_000_000)}, "schedule"),
        ({"schedule": schedule(-5, 1_000_005)}, "schedule"),
        ({"schedule": []}, "schedule"),
        ({"schedule": [{"due_on": "2020-01-01", "amount_minor": 1_000_000}]}, "schedule"),
        ({"schedule": schedule(10**20)}, "schedule"),
        ({"schedule": schedule(1_000_000), "invoice_ids": [2_147_483_647]}, "invoice_ids"),
        ({"schedule": schedule(1_000_000), "invoice_ids": []}, "invoice_ids"),
        ({"schedule": schedule(1_000_000), "note": "bell\x07"}, "note"),
        ({"schedule": [{"due_on": 20270101, "amount_minor": 1_000_000}]}, "schedule"),
        ({"schedule": [{"due_on": "2027-01-01", "amount_minor": True}]}, "schedule"),
        ({"schedule": "soon"}, "schedule"),
    ],
)
def test_bad_plans_are_refused_naming_the_field_and_nothing_is_stored(
    client, city: City, debt, session, body, field
):
    response = client.post(
        f"{API}/apartments/{city.home.id}/instalment-plans", json=body, headers=city.headers["manager"]
    )
    assert response.status_code == 422, response.text
    assert response.json().get("field", "").startswith(field), response.json()
    assert plans(session) == 0


def test_the_console_agrees_a_plan_and_the_resident_sees_it_on_their_pages(
    browser_of, city: City, debt, session
):
    manager = browser_of("manager")
    page = f"/console/apartments/{city.home.id}/instalment-plans"
    today = clock.local_today("Asia/Tashkent")
    bad = submit(
        manager,
        page,
        page,
        {"due_on": [(today + timedelta(days=10)).isoformat()], "amount": ["9 999,99"]},
    )
    assert bad.status_code == 422 and "add up to" in bad.text
    assert plans(session) == 0
    typo = submit(manager, page, page, {"due_on": ["tomorrow"], "amount": ["10000"]})
    assert typo.status_code == 422 and "Row 1" in typo.text

    done = submit(
        manager,
        page,
        page,
        {
            "due_on": [
                (today + timedelta(days=10)).isoformat(),
                (today + timedelta(days=40)).isoformat(),
                "",
            ],
            "amount": ["6 000", "4000,00", ""],
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert plans(session) == 1

    resident = browser_of("resident")
    mine = resident.get(f"/apartments/{city.home.id}/instalment-plan")
    assert mine.status_code == 200 and "in force" in mine.text and "Paid toward the plan" in mine.text
    invoice = resident.get(f"/invoices/{debt}")
    assert "0.1%" in invoice.text and "50%" in invoice.text and "instalment plan" in invoice.text
    assert f"/apartments/{city.home.id}/instalment-plan" in resident.get(f"/apartments/{city.home.id}").text
    assert resident.get(f"/apartments/{city.far_away.id}/instalment-plan").status_code == 404
    assert resident.get(page).status_code in (403, 404)

    cancel = manager.get(page)
    [plan_id] = session.exec(select(InstalmentPlan.id)).all()
    response = manager.post(
        f"/console/instalment-plans/{plan_id}/cancel",
        data={"csrftoken": csrf_token(cancel.text)},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_the_invoice_shows_the_rate_of_whoever_holds_more_than_half(client, city: City, session):
    half = make_apartment(session, city.building_a)
    make_owner(session, half, "1/2")
    make_owner(session, half, "1/2", kind=PersonKind.organisation, tax_id="301234599")
    firm = make_apartment(session, city.building_a)
    make_owner(session, firm, "1", kind=PersonKind.organisation, tax_id="301234598")
    invoices = {flat.id: make_billed_invoice(session, flat, 500_000).id for flat in (half, firm)}
    session.commit()
    shown = {
        flat_id: client.get(f"{API}/invoices/{invoice_id}", headers=city.headers["manager"]).json()
        for flat_id, invoice_id in invoices.items()
    }
    terms = lambda read: (read["penalty_rate"], read["penalty_cap"], read["penalty_payer"])  # noqa: E731
    assert terms(shown[half.id]) == ("0.1%", "50%", "individual")  # exactly half
    assert terms(shown[firm.id]) == ("0.4%", "50%", "organisation")
