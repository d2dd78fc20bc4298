"""POST /api/v1/apartments/{id}/checkouts: a resident's Payme or Click payment, handed to the provider's checkout.

The route starts the payment (`created`, no provider id yet) and answers its checkout link;
the same Idempotency-Key gives the same payment back. A provider not set up is 503, an
amount outside its limits 422, anyone but a resident 403, someone else's apartment 404.
"""

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from billing.models import Gateway, PaymentAttempt, PaymentStatus
from housing.app import create_app
from tests.conftest import make_settings
from tests.factories.core import login
from tests.standins import click_checkout, payme_checkout
from tests.standins.click_checkout import click_group
from tests.standins.payme_checkout import payme_group

PAYME_URL = "https://checkout.test.paycom.uz"
CLICK_URL = "https://my.click.uz/services/pay"


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, payme=payme_group(PAYME_URL), click=click_group(CLICK_URL))


def url(apartment_id: int) -> str:
    return f"/api/v1/apartments/{apartment_id}/checkouts"


def attempts(db) -> list[PaymentAttempt]:
    with Session(db) as session:
        return list(session.exec(select(PaymentAttempt).order_by(PaymentAttempt.id)))


def test_payme_checkout_is_the_payment_and_its_link(client, city, db):
    answer = client.post(
        url(city.home.id),
        json={"gateway": "payme", "amount_minor": 15_000_000},
        headers=city.headers["resident"],
    )

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert (body["gateway"], body["status"], body["amount_minor"]) == ("payme", "created", 15_000_000)
    assert body["external_id"] is None and body["apartment_id"] == city.home.id
    assert payme_checkout.link_params(body["checkout_url"], PAYME_URL) == {
        "m": payme_checkout.MERCHANT_ID,
        "ac.account_number": city.home.account_number,
        "a": "15000000",
        "c": f"http://testserver/payments/{body['id']}",
        "l": "uz",  # the platform's default language when the client names none
    }
    [attempt] = attempts(db)
    assert attempt.id == body["id"] and attempt.created_by_id == city.users["resident"]


def test_click_checkout_is_the_payment_and_its_link(client, city):
    answer = client.post(
        url(city.home.id),
        json={"gateway": "click", "amount_minor": 100_050},
        headers=city.headers["resident"] | {"Accept-Language": "ru"},
    )

    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["checkout_url"].startswith(CLICK_URL + "?")
    assert click_checkout.link_params(body["checkout_url"]) == {
        "service_id": click_checkout.SERVICE_ID,
        "merchant_id": click_checkout.MERCHANT_ID,
        "amount": "1000.50",
        "transaction_param": city.home.account_number,
        "return_url": f"http://testserver/payments/{body['id']}",
    }


def test_the_same_idempotency_key_gives_the_same_payment(client, city, db):
    headers = city.headers["resident"] | {"Idempotency-Key": "phone-42"}
    body = {"gateway": "click", "amount_minor": 15_000_000}

    first = client.post(url(city.home.id), json=body, headers=headers)
    again = client.post(url(city.home.id), json=body, headers=headers)
    other = client.post(url(city.home.id), json=body, headers=city.headers["resident"])

    assert first.status_code == again.status_code == other.status_code == 201
    assert again.json()["id"] == first.json()["id"] != other.json()["id"]
    assert again.json()["checkout_url"] == first.json()["checkout_url"]
    assert len(attempts(db)) == 2


@pytest.mark.parametrize(
    "changed",
    [{"amount_minor": 15_000_001}, {"gateway": "payme"}],
    ids=["another amount", "another provider"],
)
def test_a_key_used_for_another_payment_is_a_conflict(client, city, db, changed):
    headers = city.headers["resident"] | {"Idempotency-Key": "phone-42"}
    body = {"gateway": "click", "amount_minor": 15_000_000}
    assert client.post(url(city.home.id), json=body, headers=headers).status_code == 201

    answer = client.post(url(city.home.id), json=body | changed, headers=headers)

    assert answer.status_code == 409 and answer.json()["field"] == "Idempotency-Key"
    assert len(attempts(db)) == 1


def test_a_provider_that_is_not_configured_is_503(database_url, db, city):
    app = create_app(make_settings(database_url, payme=payme_group(PAYME_URL)), engine=db)
    with TestClient(app) as client:
        headers = login(client, "resident")
        off = client.post(
            url(city.home.id), json={"gateway": "click", "amount_minor": 15_000_000}, headers=headers
        )
        on = client.post(
            url(city.home.id), json={"gateway": "payme", "amount_minor": 15_000_000}, headers=headers
        )

    assert off.status_code == 503 and "Click is not configured" in off.json()["detail"]
    assert off.headers["content-type"].startswith("application/problem+json")
    assert on.status_code == 201
    assert [a.gateway for a in attempts(db)] == [Gateway.payme]


@pytest.mark.parametrize(
    ("gateway", "amount"),
    [("payme", 99_999), ("click", 99_999), ("payme", 1_000_000_001), ("click", 10**15)],
)
def test_an_amount_outside_the_limits_is_422(client, city, db, gateway, amount):
    answer = client.post(
        url(city.home.id), json={"gateway": gateway, "amount_minor": amount}, headers=city.headers["resident"]
    )

    assert answer.status_code == 422, answer.text
    assert answer.json()["field"] == "amount_minor" and "between" in answer.json()["detail"]
    assert attempts(db) == []


def test_the_limits_follow_the_settings(database_url, db, city):
    settings = make_settings(
        database_url, payme=payme_group(PAYME_URL, min_amount_minor=500, max_amount_minor=600)
    )
    with TestClient(create_app(settings, engine=db)) as client:
        headers = login(client, "resident")
        statuses = [
            client.post(
                url(city.home.id), json={"gateway": "payme", "amount_minor": a}, headers=headers
            ).status_code
            for a in (499, 500, 600, 601)
        ]
    assert statuses == [422, 201, 201, 422]


def test_more_than_is_owed_is_taken_as_prepayment(client, city, db):
    """The apartment owes nothing here: the whole payment will stay on the account."""
    answer = client.post(
        url(city.home.id),
        json={"gateway": "payme", "amount_minor": 900_000_000},
        headers=city.headers["resident"],
    )

    assert answer.status_code == 201
    assert attempts(db)[0].status == PaymentStatus.created


@pytest.mark.parametrize("role", ["admin", "manager", "dispatcher", "official"])
def test_only_residents_start_a_checkout(client, city, db, role):
    answer = client.post(
        url(city.home.id), json={"gateway": "payme", "amount_minor": 15_000_000}, headers=city.headers[role]
    )

    assert answer.status_code in (403, 404)  # 404 for a role that may not see the apartment at all
    if role in ("admin", "manager"):
        assert answer.status_code == 403 and "made by the residents" in answer.json()["detail"]
    assert attempts(db) == []


def test_someone_elses_apartment_is_not_found(client, city, db):
    answer = client.post(
        url(city.neighbour.id),
        json={"gateway": "payme", "amount_minor": 15_000_000},
        headers=city.headers["resident"],
    )

    assert answer.status_code == 404
    assert city.neighbour.account_number not in answer.text
    assert attempts(db) == []


def test_without_a_login_nothing_starts(client, city, db):
    answer = client.post(url(city.home.id), json={"gateway": "payme", "amount_minor": 15_000_000})

    assert answer.status_code == 401
    assert attempts(db) == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount_minor": 15_000_000}, "gateway"),
        ({"gateway": "payme"}, "amount_minor"),
        ({"gateway": "stripe", "amount_minor": 15_000_000}, "gateway"),
        ({"gateway": "bank", "amount_minor": 15_000_000}, "gateway"),
        ({"gateway": "PAYME", "amount_minor": 15_000_000}, "gateway"),
        ({"gateway": "pay\x00me", "amount_minor": 15_000_000}, "gateway"),
        ({"gateway": ["payme"], "amount_minor": 15_000_000}, "gateway"),
        ({"gateway": "payme", "amount_minor": True}, "amount_minor"),
        ({"gateway": "payme", "amount_minor": 150000.5}, "amount_minor"),
        ({"gateway": "payme", "amount_minor": 0}, "amount_minor"),
        ({"gateway": "payme", "amount_minor": -15_000_000}, "amount_minor"),
        ({"gateway": "payme", "amount_minor": 2**63}, "amount_minor"),
        ({"gateway": "payme", "amount_minor": 10**400}, "amount_minor"),
        ({"gateway": "payme", "amount_minor": None}, "amount_minor"),
    ],
)
def test_a_hostile_body_is_422_naming_the_field(client, city, db, body, field):
    answer = client.post(url(city.home.id), json=body, headers=city.headers["resident"])

    assert answer.status_code == 422, answer.text
    problem = answer.json()
    assert problem.get("field") == field or any(e.get("field") == field for e in problem.get("errors", []))
    assert attempts(db) == []


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"not json", 422), (b"[]", 422), (b'{"gateway": "payme", "amount_minor": 1' + b"0" * 5000 + b"}", 400)],
)
def test_a_body_that_is_not_the_object_is_refused(client, city, db, content, status):
    headers = city.headers["resident"] | {"Content-Type": "application/json"}
    answer = client.post(url(city.home.id), content=content, headers=headers)

    assert answer.status_code == status, answer.text
    assert attempts(db) == []


def test_an_enormous_body_is_413(client, city, db):
    headers = city.headers["resident"] | {"Content-Type": "application/json"}
    content = b'{"gateway": "payme", "amount_minor": 15000000, "pad": "' + b"x" * (3 * 1024 * 1024) + b'"}'
    answer = client.post(url(city.home.id), content=content, headers=headers)

    assert answer.status_code == 413
    assert attempts(db) == []


@pytest.mark.parametrize("key", ["k" * 101, "key\x00", "key\x1b"])
def test_a_hostile_idempotency_key_is_422(client, city, db, key):
    headers = city.headers["resident"] | {"Idempotency-Key": key}
    answer = client.post(
        url(city.home.id), json={"gateway": "payme", "amount_minor": 15_000_000}, headers=headers
    )

    assert answer.status_code == 422, answer.text
    assert attempts(db) == []


def test_the_checkout_is_documented(app):
    operation = app.openapi()["paths"]["/api/v1/apartments/{apartment_id}/checkouts"]["post"]

    assert {"201", "403", "404", "409", "422", "503"} <= set(operation["responses"])
    assert "idempotency-key" in [p["name"].lower() for p in operation["parameters"]]
