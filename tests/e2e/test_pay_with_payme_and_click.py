"""A resident pays through Payme or Click in a real browser at a phone's width, against local
stand-ins of the providers' checkouts (tests/standins/payme_checkout.py, click_checkout.py).

The pay page offers the three ways this server has; the form's 303 takes the browser to the
stand-in (so the Content-Security-Policy's form-action must allow it), whose "Pay" calls our
merchant endpoints as the provider does and sends the browser back to the payment's page.
Each journey ends where a person would look: the payment's page, the invoice, the balance.
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session, select

from billing.models import Gateway, InvoiceStatus, PaymentAttempt, PaymentStatus
from tests.conftest import make_settings
from tests.factories.core import PASSWORD
from tests.factories.portal import make_home
from tests.integration.stripe_helpers import serving_for_stripe, stripe_group
from tests.standins.click_checkout import ClickState, click_group, running_click_checkout
from tests.standins.payme_checkout import PaymeState, payme_group, running_payme_checkout

pytestmark = pytest.mark.e2e

PROVIDERS = ["payme", "click"]
NAMES = {"payme": "Payme", "click": "Click"}


@pytest.fixture
def payme() -> PaymeState:
    return PaymeState()


@pytest.fixture
def click() -> ClickState:
    return ClickState()


@pytest.fixture
def checkouts(payme, click) -> Iterator[dict[str, str]]:
    """Both stand-ins served; their checkout addresses (the settings point there)."""
    with running_payme_checkout(payme) as payme_url, running_click_checkout(click) as click_url:
        yield {"payme": payme_url, "click": click_url}


@pytest.fixture
def settings(database_url, localstripe, checkouts):
    """Cards through localstripe, Payme and Click through their stand-ins."""
    return make_settings(
        database_url,
        stripe=stripe_group(localstripe, js_url=f"{localstripe}/js.stripe.com/v3/"),
        payme=payme_group(checkouts["payme"]),
        click=click_group(checkouts["click"]),
    )


@pytest.fixture
def site(app, localstripe, payme, click) -> Iterator[str]:
    """The app served for real; the stand-ins call its merchant endpoints."""
    with serving_for_stripe(app, localstripe) as url:
        payme.point_at(url)
        click.point_at(url)
        yield url


@pytest.fixture
def home(session: Session, city):
    made = make_home(session, city.home)
    session.commit()
    return made


def log_in(page: Page, site: str) -> None:
    page.goto(f"{site}/login")
    page.locator("#username").fill("resident")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="My apartments")).to_be_visible()


def fits_the_phone(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, f"{page.url} scrolls sideways"


def open_pay_page(page: Page, site: str, home, shot) -> None:
    """From the invoice, as a resident would; the pay page offers the three ways, none chosen."""
    log_in(page, site)
    page.goto(f"{site}/invoices/{home.invoice.id}")
    page.get_by_role("link", name="Pay", exact=True).click()
    expect(page.get_by_role("heading", name="Pay", exact=True)).to_be_visible()
    methods = page.get_by_role("group", name="How to pay")
    for name in ("Bank card", "Payme", "Click"):
        expect(methods.get_by_role("radio", name=name)).not_to_be_checked()
    expect(page.get_by_label("Amount, so'm")).to_have_value("510,000")
    expect(page.locator("#prepay-hint")).to_contain_text("you may also pay more than is owed")
    fits_the_phone(page)
    shot("pay-page")


def hand_over(page: Page, provider: str, checkouts: dict[str, str], shot) -> None:
    page.get_by_role("radio", name=NAMES[provider]).check()
    page.get_by_role("button", name="Continue", exact=True).click()
    page.wait_for_url(re.compile(re.escape(checkouts[provider].split("/services")[0]) + ".*"))
    expect(page.get_by_role("heading", name="Pay")).to_be_visible()
    expect(page.locator("#amount")).to_contain_text("510,000.00" if provider == "payme" else "510000.00")
    shot("checkout")


def the_payment(db) -> PaymentAttempt:
    with Session(db) as session:
        [attempt] = session.exec(select(PaymentAttempt)).all()
        return attempt


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_resident_pays_through_the_provider_and_sees_it_paid(
    page: Page, site, home, shot, db, checkouts, payme, click, provider
):
    open_pay_page(page, site, home, shot)
    hand_over(page, provider, checkouts, shot)

    page.get_by_role("button", name="Pay", exact=True).click()

    page.wait_for_url(re.compile(rf"{re.escape(site)}/payments/\d+$"))
    expect(page.locator("#payment-provider")).to_have_text(NAMES[provider])
    expect(page.locator("#payment-status")).to_have_text("paid")
    expect(page.locator("#payment-result")).to_have_text(
        f"Thank you! {NAMES[provider]} paid it, and it is booked to your account."
    )
    attempt = the_payment(db)
    expect(page.locator("#payment-transaction")).to_have_text(attempt.external_id)
    assert (attempt.gateway, attempt.status, attempt.amount_minor) == (
        provider,
        PaymentStatus.succeeded,
        51_000_000,
    )
    assert page.locator("meta[http-equiv=refresh]").count() == 0
    fits_the_phone(page)
    shot("paid")

    page.goto(f"{site}/invoices/{home.invoice.id}")
    expect(page.locator("main .status-paid").first).to_have_text("paid")
    shot("invoice-paid")
    page.goto(f"{site}/apartments/{home.invoice.apartment_id}")
    expect(page.locator("#balance")).to_have_text("Nothing to pay.")
    expect(page.locator("main")).to_contain_text(f"{NAMES[provider]}")  # among the recent payments
    if provider == "payme":
        assert payme.methods() == ["CheckPerformTransaction", "CreateTransaction", "PerformTransaction"]
    else:
        assert click.actions() == [0, 1]


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_cancel_at_the_provider_leaves_the_invoice_unpaid_and_the_page_says_so(
    page: Page, site, home, shot, db, checkouts, provider
):
    open_pay_page(page, site, home, shot)
    hand_over(page, provider, checkouts, shot)

    page.get_by_role("button", name="Cancel", exact=True).click()

    page.wait_for_url(re.compile(rf"{re.escape(site)}/payments/\d+$"))
    expect(page.locator("#payment-status")).to_have_text("cancelled")
    expect(page.locator("#payment-result")).to_contain_text(f"{NAMES[provider]} cancelled this payment")
    expect(page.locator("#payment-result")).to_contain_text("Nothing was paid")
    assert the_payment(db).status == PaymentStatus.canceled
    fits_the_phone(page)
    shot("cancelled")

    page.goto(f"{site}/invoices/{home.invoice.id}")
    expect(page.locator("main .status-issued").first).to_have_text("to pay")
    expect(page.get_by_role("link", name="Pay", exact=True)).to_be_visible()
    shot("invoice-unpaid")
    with Session(db) as session:
        assert session.get(type(home.invoice), home.invoice.id).status == InvoiceStatus.issued


def test_coming_back_before_paying_offers_the_way_back_and_waits(page: Page, site, home, shot, db, checkouts):
    """The payer leaves the checkout without a word to us: the page waits, reloading itself."""
    open_pay_page(page, site, home, shot)
    hand_over(page, "payme", checkouts, shot)
    attempt = the_payment(db)

    page.goto(f"{site}/payments/{attempt.id}")

    expect(page.locator("#payment-status")).to_have_text("waiting for Payme")
    expect(page.locator("meta[http-equiv=refresh]")).to_have_attribute("content", "5")
    page.get_by_role("link", name="Go back to Payme to pay").click()
    expect(page.locator("#amount")).to_contain_text("510,000.00")
    page.get_by_role("button", name="Pay", exact=True).click()
    page.wait_for_url(f"{site}/payments/{attempt.id}")
    expect(page.locator("#payment-status")).to_have_text("paid")
    shot("paid-after-coming-back")
    assert the_payment(db).gateway == Gateway.payme
