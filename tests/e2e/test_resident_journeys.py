"""A resident's journeys in a real browser at a phone's width: pay the invoice by card, send a reading.

Each ends where a person would look: the payment page says it went through and the
apartment owes nothing; the meter's chart shows this month's water.
"""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from tests.factories.core import PASSWORD
from tests.factories.portal import CITY, make_home

pytestmark = pytest.mark.e2e

THREE_D_SECURE_CARD = "4000002760003184"  # the bank asks the payer to authenticate

WORDS = {
    "en": {
        "log_in": "Log in",
        "my_apartments": "My apartments",
        "owed": "UZS510,000.00",
        "tier": "tier 1: 200 × UZS600.00 = UZS120,000.00",
        "pay": "Pay",
        "continue": "Continue to the card",
        "pay_amount": "Pay UZS510,000.00",
        "paid": "Thank you! The payment went through and is booked to your account.",
        "see_balance": "See the balance",
        "nothing": "Nothing to pay.",
    },
    "uz": {
        "log_in": "Kirish",
        "my_apartments": "Mening xonadonlarim",
        "owed": "510\xa0000,00\xa0soʻm",
        "tier": "1-pogʻona: 200 × 600,00\xa0soʻm = 120\xa0000,00\xa0soʻm",
        "pay": "Toʻlash",
        "continue": "Karta bilan davom etish",
        "pay_amount": "510\xa0000,00\xa0soʻm toʻlash",
        "paid": "Rahmat! Toʻlov amalga oshdi va hisobingizga yozildi.",
        "see_balance": "Balansni koʻrish",
        "nothing": "Toʻlash kerak emas.",
    },
}


@pytest.fixture
def home(session: Session, city):
    made = make_home(session, city.home)
    session.commit()
    return made


def log_in(page: Page, site: str, language: str, shot) -> None:
    page.goto(f"{site}/login")
    if language != "en":  # the switcher on the login page, as a visitor would find it
        page.get_by_label("Language").select_option(language)
        page.get_by_role("button", name="Change language").click()
    words = WORDS[language]
    expect(page.get_by_role("heading", name=words["log_in"])).to_be_visible()
    shot("login")
    page.locator("#username").fill("resident")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=words["log_in"], exact=True).click()
    expect(page.get_by_role("heading", name=words["my_apartments"])).to_be_visible()


@pytest.mark.parametrize("language", ["en", "uz"])
def test_a_resident_pays_the_invoice_by_card_and_sees_it_paid(page: Page, site, home, shot, language):
    words = WORDS[language]
    log_in(page, site, language, shot)
    expect(page.locator("main")).to_contain_text(words["owed"])
    shot("apartments")

    page.locator("main h2 a").first.click()
    page.locator(f'a[href="/invoices/{home.invoice.id}"]').first.click()
    expect(page.locator("main")).to_contain_text(words["tier"])
    shot("invoice")

    page.get_by_role("link", name=words["pay"], exact=True).click()
    shot("amount")
    page.get_by_role("button", name=words["continue"]).click()
    card = page.locator("#card-element")
    card.locator('input[placeholder="number"]').fill(THREE_D_SECURE_CARD)
    card.locator('input[placeholder="exp_month"]').fill("12")
    card.locator('input[placeholder="exp_year"]').fill("30")
    card.locator('input[placeholder="cvc"]').fill("123")
    shot("card")
    page.get_by_role("button", name=words["pay_amount"]).click()
    page.get_by_role("button", name="Complete authentication").click()  # the bank's 3-D Secure step

    expect(page.locator("#payment-result")).to_have_text(words["paid"])
    shot("paid")
    page.get_by_role("link", name=words["see_balance"]).click()
    expect(page.locator("#balance")).to_have_text(words["nothing"])
    shot("balance")


def test_a_resident_sends_a_reading_and_sees_it_in_the_chart(page: Page, site, home, shot):
    log_in(page, site, "en", shot)
    page.goto(f"{site}/apartments/{home.meter.apartment_id}/meters")
    expect(page.get_by_role("heading", name="My meters")).to_be_visible()
    shot("meters")

    page.get_by_label("Today's reading, m³").fill(str(home.latest_value + 2))
    page.get_by_role("button", name="Send the reading").click()

    expect(page.get_by_role("status")).to_have_text("Thank you, the reading is saved.")
    this_month = page.locator(f"#chart-{home.meter.id} g").last
    shown = Decimal(this_month.get_attribute("data-quantity"))
    # A manual meter's month is its latest reading less the last one before the month
    # (DESIGN.md): 2 m3 over the newest reading, plus that reading's 1.5 when the factory's
    # newest reading (the 1st at noon, at least two days ago) already falls in this month.
    city_now = datetime.now(CITY)
    newest_is_this_month = city_now - timedelta(days=2) > city_now.replace(day=1, hour=12, minute=0, second=0)
    expected = Decimal("3.5") if newest_is_this_month else Decimal("2.0")
    assert shown == expected, shown
    expect(this_month.locator("text").first).to_have_text(
        f"{expected:f}".removesuffix(".0")
    )  # rounded for the eye
    shot("chart")
