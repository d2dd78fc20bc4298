"""Paying from the pages against localstripe: the amount form, then the card route Stripe.js calls.

The card itself is made here with the `stripe` library, as Stripe.js makes it in a browser
(tests/e2e drives the real page with localstripe's stand-in Stripe.js).
"""

import re

import pytest
import stripe
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from billing.models import InvoiceStatus, PaymentAttempt
from housing.app import create_app
from housing.i18n import LANGUAGE_COOKIE
from tests.conftest import make_settings
from tests.factories.core import PASSWORD, login
from tests.factories.portal import make_home
from tests.integration.stripe_helpers import (
    DECLINED_CARD,
    GOOD_CARD,
    SECRET_KEY,
    serving_for_stripe,
    stripe_group,
)
from tests.pages import csrf_token, log_in
from tests.standins.click_checkout import click_group
from tests.standins.payme_checkout import payme_group

THREE_D_SECURE_CARD = "4000000000003220"


@pytest.fixture
def settings(database_url, localstripe):
    return make_settings(
        database_url,
        stripe=stripe_group(localstripe, js_url=f"{localstripe}/js.stripe.com/v3/"),
    )


@pytest.fixture
def home(session, city, app, localstripe):
    made = make_home(session, city.home)
    session.commit()
    return made


@pytest.fixture
def browser(app, localstripe, city, home):
    """A signed-in resident's browser (cookies and CSRF token) on an app localstripe can call back."""
    with serving_for_stripe(app, localstripe), TestClient(app) as client:
        client.cookies.set(LANGUAGE_COOKIE, "en")
        assert log_in(client, "resident", PASSWORD).status_code == 200
        yield client


def card(localstripe: str, number: str) -> str:
    """What Stripe.js makes from the card the payer typed: a PaymentMethod id."""
    client = stripe.StripeClient(SECRET_KEY, base_addresses={"api": localstripe})
    method = client.v1.payment_methods.create(
        params={"type": "card", "card": {"number": number, "exp_month": 12, "exp_year": 2030, "cvc": "123"}}
    )
    return method.id


def start(browser: TestClient, apartment_id: int, amount: str, form_key: str = "form-1"):
    page = browser.get(f"/apartments/{apartment_id}/pay")
    return browser.post(
        f"/apartments/{apartment_id}/pay",
        data={"amount": amount, "form_key": form_key, "csrftoken": csrf_token(page.text)},
        follow_redirects=False,
    )


def send_card(browser: TestClient, payment_id: int, method: str, page_html: str):
    return browser.post(
        f"/api/v1/payments/{payment_id}/card",
        json={"payment_method": method},
        headers={"X-CSRFToken": csrf_token(page_html)},
    )


def test_the_amount_form_opens_a_payment_and_shows_the_card_step(browser, city, localstripe, db):
    opened = start(browser, city.home.id, "510,000.00")

    assert opened.status_code == 303
    payment_page = browser.get(opened.headers["location"])
    assert f'<script src="{localstripe}/js.stripe.com/v3/"></script>' in payment_page.text
    assert 'id="card-form"' in payment_page.text and "Pay UZS510,000.00" in payment_page.text
    policy = payment_page.headers["content-security-policy"]
    assert f"script-src 'self' {localstripe}" in policy and f"connect-src 'self' {localstripe}" in policy
    again = start(browser, city.home.id, "510,000.00")  # the same form sent twice
    assert again.headers["location"] == opened.headers["location"]
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("five hundred", "Enter the amount in som"),
        ("0", "The amount must be more than zero."),
        ("600,000", "The amount is more than is owed on this account."),
        ("12.345", "Enter the amount in som"),
    ],
)
def test_a_wrong_amount_is_explained_next_to_the_field(browser, city, typed, message, db):
    answer = start(browser, city.home.id, typed)

    assert answer.status_code == 422
    assert re.search(rf'id="amount-error" role="alert">{re.escape(message)}', answer.text)
    assert f'value="{typed}"' in answer.text and 'aria-invalid="true"' in answer.text
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 0


def test_a_good_card_pays_the_invoice(browser, city, home, localstripe, db):
    page = browser.get(start(browser, city.home.id, "510,000.00").headers["location"])
    payment_id = int(page.url.path.rsplit("/", 1)[1])

    answer = send_card(browser, payment_id, card(localstripe, GOOD_CARD), page.text)

    assert answer.status_code == 200, answer.text
    assert answer.json()["status"] == "succeeded" and answer.json()["requires_action"] is False
    shown = browser.get(f"/payments/{payment_id}")
    assert "The payment went through" in shown.text
    with Session(db) as session:
        assert session.get(type(home.invoice), home.invoice.id).status == InvoiceStatus.paid


def test_a_card_that_needs_3d_secure_asks_the_browser_to_authenticate(browser, city, localstripe):
    page = browser.get(start(browser, city.home.id, "100").headers["location"])
    payment_id = int(page.url.path.rsplit("/", 1)[1])

    answer = send_card(browser, payment_id, card(localstripe, THREE_D_SECURE_CARD), page.text)

    body = answer.json()
    assert answer.status_code == 200 and body["requires_action"] is True
    assert body["status"] == "pending" and body["client_secret"].startswith("pi_")
    assert "waiting for the card" in browser.get(f"/payments/{payment_id}").text


def test_a_declined_card_is_refused_with_the_banks_reason_and_may_be_retried(browser, city, localstripe, db):
    page = browser.get(start(browser, city.home.id, "510,000.00").headers["location"])
    payment_id = int(page.url.path.rsplit("/", 1)[1])

    refused = send_card(browser, payment_id, card(localstripe, DECLINED_CARD), page.text)

    assert refused.status_code == 422 and "declined" in refused.json()["detail"]
    again = browser.get(f"/payments/{payment_id}")
    assert "The card was refused" in again.text and 'id="card-form"' in again.text
    with Session(db) as session:
        assert session.get(PaymentAttempt, payment_id).status == "failed"


def test_the_card_route_needs_the_csrf_token_and_the_payer(browser, city, localstripe, client, db):
    page = browser.get(start(browser, city.home.id, "100").headers["location"])
    payment_id = int(page.url.path.rsplit("/", 1)[1])
    method = card(localstripe, GOOD_CARD)

    forged = browser.post(f"/api/v1/payments/{payment_id}/card", json={"payment_method": method})
    stranger = client.post(
        f"/api/v1/payments/{payment_id}/card",
        json={"payment_method": method},
        headers=login(client, "manager"),
    )

    assert forged.status_code == 403
    assert stranger.status_code == 403 and "only the resident who started" in stranger.json()["detail"]
    with Session(db) as session:
        assert session.get(PaymentAttempt, payment_id).status == "pending"  # nothing was charged


def test_beside_payme_and_click_the_card_is_paid_as_before(database_url, db, city, home, localstripe):
    """The card chosen among three ways: the same card step on our page, and the invoice paid."""
    settings = make_settings(
        database_url,
        stripe=stripe_group(localstripe, js_url=f"{localstripe}/js.stripe.com/v3/"),
        payme=payme_group("https://checkout.test.paycom.uz"),
        click=click_group("https://my.click.uz/services/pay"),
    )
    app = create_app(settings, engine=db)
    with serving_for_stripe(app, localstripe), TestClient(app) as client:
        client.cookies.set(LANGUAGE_COOKIE, "en")
        assert log_in(client, "resident", PASSWORD).status_code == 200
        form = client.get(f"/apartments/{city.home.id}/pay")
        assert 'name="method" value="card"' in form.text and 'name="method" value="payme"' in form.text
        opened = client.post(
            f"/apartments/{city.home.id}/pay",
            data={
                "amount": "510,000.00",
                "method": "card",
                "form_key": "f",
                "csrftoken": csrf_token(form.text),
            },
            follow_redirects=False,
        )
        assert opened.status_code == 303 and opened.headers["location"].startswith("/payments/")
        page = client.get(opened.headers["location"])
        assert 'id="card-form"' in page.text and "Pay UZS510,000.00" in page.text
        payment_id = int(page.url.path.rsplit("/", 1)[1])
        answer = send_card(client, payment_id, card(localstripe, GOOD_CARD), page.text)
        assert answer.status_code == 200 and answer.json()["status"] == "succeeded", answer.text
    with Session(db) as session:
        assert session.get(PaymentAttempt, payment_id).gateway == "stripe"
        assert session.get(type(home.invoice), home.invoice.id).status == InvoiceStatus.paid
