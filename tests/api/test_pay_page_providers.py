"""The pay page with Payme and Click beside the card, through plain HTTP as a browser without JavaScript.

The resident chooses among the ways this server has; Payme and Click hand the payer over
to the provider's checkout with a 303 whose link is checked field by field; the payment's
page then says what the provider told us, without asking Stripe. The providers are not
called here (tests/e2e/test_pay_with_payme_and_click.py pays through their stand-ins).
"""

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from billing.models import Gateway, PaymentAttempt, PaymentStatus
from billing.payments import service as payments
from housing.app import content_security_policy, create_app
from housing.db import utcnow
from housing.i18n import LANGUAGE_COOKIE
from tests.conftest import make_settings
from tests.factories.billing import make_payment_attempt
from tests.factories.core import PASSWORD
from tests.factories.portal import TOTAL, make_home
from tests.integration.stripe_helpers import webhooks_only_group
from tests.pages import csrf_token, log_in
from tests.standins import click_checkout, payme_checkout
from tests.standins.click_checkout import click_group
from tests.standins.payme_checkout import payme_group

PAYME_URL = "https://checkout.test.paycom.uz"
CLICK_URL = "https://my.click.uz/services/pay"
CARD = {"stripe": webhooks_only_group()}
PAYME = {"payme": payme_group(PAYME_URL)}
CLICK = {"click": click_group(CLICK_URL)}
ALL = CARD | PAYME | CLICK
PREPAY = "you may also pay more than is owed: the rest stays on your account as prepayment"


@pytest.fixture
def home(session: Session, city):
    made = make_home(session, city.home)
    session.commit()
    return made


@pytest.fixture
def open_browser(database_url, db, city, home):
    """A signed-in browser (cookies, English) on an app with the given setting groups."""
    opened: list[TestClient] = []

    def open_as(groups: dict, username: str = "resident") -> TestClient:
        client = TestClient(create_app(make_settings(database_url, **groups), engine=db))
        client.__enter__()
        opened.append(client)
        client.cookies.set(LANGUAGE_COOKIE, "en")
        assert log_in(client, username, PASSWORD).status_code == 200
        return client

    yield open_as
    for client in opened:
        client.__exit__(None, None, None)


def send(browser: TestClient, apartment_id: int, **fields):
    """The pay form as a browser sends it: the page's token, a form key, what the payer chose."""
    page = browser.get(f"/apartments/{apartment_id}/pay")
    data = {"form_key": "form-1", "csrftoken": csrf_token(page.text)} | fields
    return browser.post(f"/apartments/{apartment_id}/pay", data=data, follow_redirects=False)


def radios(html: str) -> list[tuple[str, bool]]:
    """The ways of paying offered: (value, checked)."""
    return [
        (value, "checked" in rest)
        for value, rest in re.findall(r'<input type="radio" name="method" value="(\w+)"([^>]*)>', html)
    ]


def attempts(db) -> list[PaymentAttempt]:
    with Session(db) as session:
        return list(session.exec(select(PaymentAttempt).order_by(PaymentAttempt.id)))


@pytest.mark.parametrize(
    ("groups", "offered", "button"),
    [
        (CARD, [], "Continue to the card"),  # today's card form, no choice to make
        (PAYME, [("payme", True)], "Continue"),
        (CLICK, [("click", True)], "Continue"),
        (PAYME | CLICK, [("payme", False), ("click", False)], "Continue"),
        (ALL, [("card", False), ("payme", False), ("click", False)], "Continue"),
    ],
    ids=["card", "payme", "click", "payme+click", "all"],
)
def test_the_form_offers_the_configured_ways_and_chooses_the_only_one(
    open_browser, city, groups, offered, button
):
    page = open_browser(groups).get(f"/apartments/{city.home.id}/pay")

    assert page.status_code == 200
    assert radios(page.text) == offered
    assert f'<button type="submit">{button}</button>' in page.text
    assert 'name="amount"' in page.text and 'value="510,000"' in page.text
    assert (PREPAY in page.text) == ("payme" in groups or "click" in groups)
    if "payme" in groups:
        assert "One payment through Payme: from UZS1,000.00 to UZS10,000,000.00." in page.text
    assert ("through Click" in page.text) == ("click" in groups)


def test_without_any_way_the_page_says_to_pay_at_a_bank_or_office(open_browser, city):
    page = open_browser({}).get(f"/apartments/{city.home.id}/pay")

    assert "Card payments are not available on this server. Pay at a bank or an office" in page.text
    assert city.home.account_number in page.text
    assert 'name="amount"' not in page.text and radios(page.text) == []


def test_nothing_owed_offers_payme_and_click_for_prepayment_but_not_the_card(open_browser, session, city, db):
    payments.record_manual_payment(
        session,
        apartment_id=city.home.id,
        amount_minor=TOTAL,
        gateway=Gateway.bank,
        reference="settled",
        paid_at=utcnow(),
        user_id=None,
    )
    session.commit()
    browser = open_browser(ALL)
    page = browser.get(f"/apartments/{city.home.id}/pay")

    assert "Nothing to pay." in page.text
    assert radios(page.text) == [("payme", False), ("click", False)]
    answer = send(browser, city.home.id, amount="100,000", method="click")
    assert answer.status_code == 303, answer.text
    card = send(browser, city.home.id, amount="100,000", method="card", form_key="form-2")
    assert card.status_code == 422 and "Nothing is owed on this account." in card.text
    ahead = f'<a class="button" href="/apartments/{city.home.id}/pay">Pay ahead</a>'
    assert ahead in browser.get(f"/apartments/{city.home.id}").text  # now in credit: the way to pay more
    assert ahead not in open_browser(CARD).get(f"/apartments/{city.home.id}").text


def test_with_the_card_only_and_nothing_owed_the_form_says_so_as_before(open_browser, session, city, db):
    payments.record_manual_payment(
        session,
        apartment_id=city.home.id,
        amount_minor=TOTAL,
        gateway=Gateway.bank,
        reference="settled",
        paid_at=utcnow(),
        user_id=None,
    )
    session.commit()
    browser = open_browser(CARD)

    page = browser.get(f"/apartments/{city.home.id}/pay")
    assert "Nothing to pay." in page.text and 'name="amount"' not in page.text
    answer = send(browser, city.home.id, amount="100")  # a form kept from before
    assert answer.status_code == 422 and "Nothing is owed on this account." in answer.text
    assert [a.gateway for a in attempts(db)] == [Gateway.bank]


def test_payme_gets_our_account_amount_return_address_and_language(open_browser, city, db):
    answer = send(open_browser(ALL), city.home.id, amount="510,000.00", method="payme")

    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.startswith(f"{PAYME_URL}/")
    [attempt] = attempts(db)
    assert payme_checkout.link_params(location, PAYME_URL) == {
        "m": payme_checkout.MERCHANT_ID,
        "ac.account_number": city.home.account_number,
        "a": str(TOTAL),
        "c": f"http://testserver/payments/{attempt.id}",
        "l": "en",
    }
    assert (attempt.gateway, attempt.status, attempt.amount_minor) == (
        Gateway.payme,
        PaymentStatus.created,
        TOTAL,
    )
    assert attempt.external_id is None and attempt.created_by_id == city.users["resident"]


def test_click_gets_our_service_account_amount_in_som_and_return_address(open_browser, city, db):
    answer = send(open_browser(ALL), city.home.id, amount="123,456.78", method="click")

    assert answer.status_code == 303, answer.text
    location = answer.headers["location"]
    assert location.split("?")[0] == CLICK_URL
    [attempt] = attempts(db)
    assert click_checkout.link_params(location) == {
        "service_id": click_checkout.SERVICE_ID,
        "merchant_id": click_checkout.MERCHANT_ID,
        "amount": "123456.78",
        "transaction_param": city.home.account_number,
        "return_url": f"http://testserver/payments/{attempt.id}",
    }
    assert (attempt.gateway, attempt.amount_minor) == (Gateway.click, 12_345_678)


def test_the_payers_language_goes_to_payme(open_browser, city):
    browser = open_browser(PAYME)
    browser.cookies.set(LANGUAGE_COOKIE, "uz")
    answer = send(browser, city.home.id, amount="510000", method="payme")

    assert answer.status_code == 303, answer.text
    assert payme_checkout.link_params(answer.headers["location"], PAYME_URL)["l"] == "uz"


@pytest.mark.parametrize("method", ["payme", "click"])
def test_the_same_form_sent_twice_is_one_payment(open_browser, city, db, method):
    browser = open_browser(ALL)
    first = send(browser, city.home.id, amount="510,000.00", method=method)
    again = send(browser, city.home.id, amount="510,000.00", method=method)

    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == first.headers["location"]
    assert len(attempts(db)) == 1


def test_the_same_form_key_with_other_details_is_refused_with_a_fresh_form(open_browser, city, db):
    browser = open_browser(ALL)
    assert send(browser, city.home.id, amount="510,000.00", method="payme").status_code == 303

    for changed in ({"amount": "500,000", "method": "payme"}, {"amount": "510,000.00", "method": "click"}):
        answer = send(browser, city.home.id, **changed)
        assert answer.status_code == 409
        assert "This form was already sent with other details." in answer.text
        assert 'name="form_key" value="form-1"' not in answer.text  # a new key for the next try
    card = send(browser, city.home.id, amount="510,000.00", method="card")  # Stripe is never asked
    assert card.status_code == 409 and "This form was already sent with other details." in card.text
    assert len(attempts(db)) == 1


@pytest.mark.parametrize(
    ("method", "typed", "message"),
    [
        ("payme", "999.99", "One payment through Payme must be at least UZS1,000.00."),
        ("click", "999.99", "One payment through Click must be at least UZS1,000.00."),
        ("payme", "10,000,000.01", "One payment through Payme can be at most UZS10,000,000.00"),
        ("click", "50,000,000", "One payment through Click can be at most UZS10,000,000.00"),
    ],
)
def test_an_amount_outside_the_providers_limits_is_explained(open_browser, city, db, method, typed, message):
    answer = send(open_browser(ALL), city.home.id, amount=typed, method=method)

    assert answer.status_code == 422
    assert re.search(rf'id="amount-error" role="alert">{re.escape(message)}', answer.text), answer.text
    assert f'value="{typed}"' in answer.text and f'value="{method}" required checked' in answer.text
    assert attempts(db) == []


@pytest.mark.parametrize("method", ["payme", "click"])
def test_the_limits_are_the_settings(open_browser, city, db, method):
    groups = {
        "payme": payme_group(PAYME_URL, min_amount_minor=600_000_00),
        "click": click_group(CLICK_URL, max_amount_minor=100_000_00),
    }
    browser = open_browser(groups)
    answer = send(browser, city.home.id, amount="510,000", method=method)
    assert answer.status_code == 422
    assert {"payme": "at least UZS600,000.00", "click": "at most UZS100,000.00"}[method] in answer.text
    assert attempts(db) == []


@pytest.mark.parametrize("method", ["payme", "click"])
def test_more_than_is_owed_is_prepayment(open_browser, city, db, method):
    answer = send(open_browser(ALL), city.home.id, amount="2,000,000", method=method)

    assert answer.status_code == 303, answer.text
    assert [a.amount_minor for a in attempts(db)] == [200_000_000]


HOSTILE_AMOUNTS = [
    "   ",
    "abc",
    "0",
    "-5",
    "-0.01",
    "12.345",
    "1e999999",
    "1e-999999",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 40,
    "0." + "0" * 37 + "1",
    "1,2,3.4.5",
    "0x10",
    "--5",
    "½",
    "5%",
]


@pytest.mark.parametrize("method", ["payme", "click"])
def test_a_hostile_amount_is_a_422_and_no_payment(open_browser, city, db, method):
    browser = open_browser(ALL)
    for typed in HOSTILE_AMOUNTS:
        answer = send(browser, city.home.id, amount=typed, method=method)
        assert answer.status_code == 422, (typed, answer.status_code, answer.headers.get("location"))
        assert 'id="amount-error"' in answer.text, typed
    assert attempts(db) == []


def test_a_missing_amount_is_a_422_naming_it(open_browser, city, db):
    answer = send(open_browser(ALL), city.home.id, amount="", method="payme")

    assert answer.status_code == 422 and "amount" in answer.text
    assert attempts(db) == []


HOSTILE_FIELDS = [
    {"method": "stripe"},
    {"method": "bank"},
    {"method": "PAYME"},
    {"method": "pay\x00me"},
    {"method": "payme" * 10},
    {"amount": "1" * 41},
    {"amount": "510000\x00"},
    {"form_key": "k" * 101},
    {"form_key": "k\x1bk"},
]


def test_a_hostile_form_is_a_422_and_no_payment(open_browser, city, db):
    browser = open_browser(ALL)
    for fields in HOSTILE_FIELDS:
        answer = send(browser, city.home.id, **({"amount": "510000", "method": "payme"} | fields))
        assert answer.status_code == 422, (fields, answer.status_code)
    assert attempts(db) == []


def test_no_choice_among_several_ways_asks_for_one(open_browser, city, db):
    answer = send(open_browser(PAYME | CLICK), city.home.id, amount="510000")

    assert answer.status_code == 422
    assert 'id="method-error" role="alert">Choose how to pay.' in answer.text
    assert attempts(db) == []


def test_the_only_way_is_taken_when_the_form_does_not_say(open_browser, city, db):
    answer = send(open_browser(CLICK), city.home.id, amount="510000")

    assert answer.status_code == 303
    assert [a.gateway for a in attempts(db)] == [Gateway.click]


def test_another_residents_apartment_is_not_found(open_browser, city, db):
    browser = open_browser(ALL)
    page = browser.get(f"/apartments/{city.neighbour.id}/pay")
    token = csrf_token(browser.get(f"/apartments/{city.home.id}/pay").text)
    sent = browser.post(
        f"/apartments/{city.neighbour.id}/pay",
        data={"amount": "510000", "method": "payme", "form_key": "x", "csrftoken": token},
        follow_redirects=False,
    )

    assert page.status_code == sent.status_code == 404
    assert city.neighbour.account_number not in page.text + sent.text
    assert attempts(db) == []


@pytest.mark.parametrize("username", ["manager", "admin"])
def test_staff_may_not_pay_for_residents(open_browser, city, db, username):
    browser = open_browser(ALL, username)
    page = browser.get(f"/apartments/{city.home.id}/pay")
    assert "Online payments are made by the residents themselves." in page.text
    assert 'name="amount"' not in page.text

    sent = browser.post(
        f"/apartments/{city.home.id}/pay",
        data={"amount": "510000", "method": "payme", "form_key": "x", "csrftoken": csrf_token(page.text)},
        follow_redirects=False,
    )
    assert sent.status_code == 403
    assert attempts(db) == []


# The payment's page after the provider's checkout.


class NoStripe:
    """A card gateway that fails the test if anything asks it: these pages must not call Stripe."""

    publishable_key = "pk_test_unused"

    def __getattr__(self, name):
        raise AssertionError(f"Stripe was asked for {name}")


@pytest.fixture
def provider_payment(session, city):
    def make(gateway: Gateway, status: PaymentStatus, **kw) -> PaymentAttempt:
        attempt = make_payment_attempt(
            session,
            city.home,
            gateway=gateway,
            amount_minor=TOTAL,
            status=status,
            created_by_id=city.users["resident"],
            **kw,
        )
        session.commit()
        return attempt

    return make


def _payment_page(open_browser, attempt: PaymentAttempt, username: str = "resident"):
    browser = open_browser(ALL, username)
    browser.app.state.payment_gateway = NoStripe()
    return browser.get(f"/payments/{attempt.id}")


@pytest.mark.parametrize("gateway", [Gateway.payme, Gateway.click])
def test_a_checkout_the_provider_has_not_opened_waits_with_a_way_back(
    open_browser, provider_payment, city, gateway
):
    attempt = provider_payment(gateway, PaymentStatus.created)
    page = _payment_page(open_browser, attempt)
    name = gateway.value.capitalize()

    assert page.status_code == 200
    assert f'id="payment-provider">{name}<' in page.text
    assert f"waiting for {name}" in page.text
    assert f"Not paid yet: {name} has not told us about this payment." in page.text
    assert '<meta http-equiv="refresh" content="5">' in page.text
    back = re.search(r'href="([^"]+)" id="checkout-link"', page.text).group(1).replace("&amp;", "&")
    if gateway is Gateway.payme:
        params = payme_checkout.link_params(back, PAYME_URL)
        assert (params["a"], params["c"]) == (str(TOTAL), f"http://testserver/payments/{attempt.id}")
    else:
        params = click_checkout.link_params(back)
        assert (params["amount"], params["transaction_param"]) == ("510000.00", city.home.account_number)
    assert "payment-transaction" not in page.text and "js.stripe.com" not in page.text


def test_only_the_payer_gets_the_way_back_to_the_checkout(open_browser, provider_payment):
    attempt = provider_payment(Gateway.payme, PaymentStatus.created)
    page = _payment_page(open_browser, attempt, "manager")

    assert page.status_code == 200 and "waiting for Payme" in page.text
    assert 'id="checkout-link"' not in page.text


@pytest.mark.parametrize(
    ("gateway", "status", "kw", "words"),
    [
        (Gateway.payme, PaymentStatus.pending, {}, "Payme is taking the payment."),
        (
            Gateway.payme,
            PaymentStatus.succeeded,
            {},
            "Thank you! Payme paid it, and it is booked to your account.",
        ),
        (
            Gateway.click,
            PaymentStatus.succeeded,
            {},
            "Thank you! Click paid it, and it is booked to your account.",
        ),
        (
            Gateway.payme,
            PaymentStatus.canceled,
            {"cancel_reason": 4},
            "Payme cancelled this payment: the time to pay ran out. Nothing was paid",
        ),
        (
            Gateway.payme,
            PaymentStatus.canceled,
            {"cancel_reason": 3},
            "Payme cancelled this payment: the payment could not be carried out.",
        ),
        (
            Gateway.click,
            PaymentStatus.canceled,
            {"cancel_reason": -5017},
            "Click cancelled this payment: Click gave the code -5017.",
        ),
        (Gateway.click, PaymentStatus.canceled, {}, "Click cancelled this payment: no reason given."),
        (
            Gateway.payme,
            PaymentStatus.refunded,
            {"cancel_reason": 5},
            "This payment was refunded: Payme returned",
        ),
    ],
)
def test_the_page_says_what_the_provider_told_us(open_browser, provider_payment, gateway, status, kw, words):
    attempt = provider_payment(gateway, status, external_id="6a1b2c3d4e5f60718293a4b5", **kw)
    page = _payment_page(open_browser, attempt)

    assert page.status_code == 200
    assert words in re.sub(r"\s+", " ", page.text)
    assert 'id="payment-transaction">6a1b2c3d4e5f60718293a4b5<' in page.text
    assert ('http-equiv="refresh"' in page.text) == (status is PaymentStatus.pending)
    assert 'id="checkout-link"' not in page.text and "card-form" not in page.text


def test_the_page_stops_reloading_itself_after_ten_minutes(open_browser, provider_payment, frozen_clock):
    attempt = provider_payment(Gateway.click, PaymentStatus.pending, external_id="2100000001")
    frozen_clock.set(attempt.created_at + timedelta(minutes=9, seconds=59))
    assert 'http-equiv="refresh"' in _payment_page(open_browser, attempt).text

    frozen_clock.set(attempt.created_at + timedelta(minutes=10))
    page = _payment_page(open_browser, attempt).text
    assert 'http-equiv="refresh"' not in page
    assert "Reload this page to see whether it has been paid." in page


def test_someone_elses_provider_payment_is_not_found(open_browser, session, city):
    theirs = make_payment_attempt(session, city.neighbour, gateway=Gateway.payme, amount_minor=TOTAL)
    session.commit()

    assert _payment_page(open_browser, theirs).status_code == 404


def test_the_apartments_recent_payments_say_who_is_awaited(open_browser, provider_payment, city):
    provider_payment(Gateway.click, PaymentStatus.pending, external_id="2100000001")
    page = open_browser(ALL).get(f"/apartments/{city.home.id}")

    assert "waiting for Click" in page.text and "waiting for the card" not in page.text


# The Content-Security-Policy: the pay form's redirect may go to the configured checkouts only.


@pytest.mark.parametrize(
    ("groups", "allowed"),
    [
        ({}, "form-action 'self';"),
        (CARD, "form-action 'self';"),
        (PAYME, f"form-action 'self' {PAYME_URL};"),
        (CLICK, "form-action 'self' https://my.click.uz;"),
        (ALL, f"form-action 'self' {PAYME_URL} https://my.click.uz;"),
        (
            {"click": click_group("http://127.0.0.1:18975/services/pay")},
            "form-action 'self' http://127.0.0.1:18975;",
        ),
    ],
    ids=["none", "card", "payme", "click", "all", "a local stand-in"],
)
def test_form_action_names_the_configured_checkouts_only(open_browser, city, groups, allowed):
    page = open_browser(groups).get(f"/apartments/{city.home.id}/pay")

    policy = page.headers["content-security-policy"]
    assert allowed in policy, policy
    assert policy.count("form-action") == 1


def test_a_provider_without_its_keys_is_not_allowed_as_a_form_target(database_url):
    settings = make_settings(
        database_url,
        payme={"checkout_url": PAYME_URL},  # no merchant id and key: Payme is off
        click=click_group(CLICK_URL, secret_key=""),
    )
    assert "form-action 'self';" in content_security_policy(settings)


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example; script-src *",
        "https://evil.example 'unsafe-inline'",
        "javascript:alert(1)",
        "https://user:pass@evil.example/",
        "//evil.example/pay",
    ],
)
def test_a_checkout_address_that_is_not_a_plain_origin_adds_nothing(database_url, url):
    policy = content_security_policy(make_settings(database_url, payme=payme_group(url)))

    assert "form-action 'self';" in policy and "evil" not in policy and "javascript" not in policy


def test_the_count_of_payments_is_one_per_form_even_across_methods(open_browser, city, db):
    """A second form (a new key) is a second payment: the key is per form, not per apartment."""
    browser = open_browser(ALL)
    send(browser, city.home.id, amount="510000", method="payme", form_key="a")
    send(browser, city.home.id, amount="510000", method="payme", form_key="b")
    with Session(db) as session:
        assert session.exec(select(func.count()).select_from(PaymentAttempt)).one() == 2
