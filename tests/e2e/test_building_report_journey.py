"""A resident reads the building's quarterly report on a phone: from the apartments page to the
account, the report and its PDF, at 360 px without the page scrolling sideways."""

from datetime import UTC, date, datetime

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from billing.building_accounts.reports import publish_report
from housing.accounts.models import Role
from housing.actors import Actor
from housing.building_money.rules import Quarter
from tests.factories.billing import make_billed_invoice, make_invoice_line, make_ledger_entry, make_service
from tests.factories.core import PASSWORD, make_user
from tests.factories.money import spend

pytestmark = pytest.mark.e2e
Q3 = Quarter(2026, 3)


@pytest.fixture
def report(session: Session, city, settings):
    """Building A's 2026-Q3: a fee of 9,000,000 tiyin paid, a cleaning expense; published."""
    management = make_service(session, code="management", unit="m2")
    invoice = make_billed_invoice(
        session, city.home, 9_000_000, period=date(2026, 8, 1), issued_at=datetime(2026, 9, 1, tzinfo=UTC)
    )
    make_invoice_line(session, invoice, management, amount_minor=9_000_000)
    make_ledger_entry(
        session,
        city.home,
        kind="payment",
        amount_minor=-9_000_000,
        occurred_at=datetime(2026, 9, 10, tzinfo=UTC),
    )
    today = date(2026, 10, 5)  # within the deadline: on time
    spend(session, city.building_a, 2_500_000, on=date(2026, 8, 20), today=today, supplier="Toza Hovli")
    admin = Actor.of(make_user(session, Role.admin))
    publish_report(
        session,
        admin,
        building_id=city.building_a.id,
        quarter=Q3,
        today=today,
        now=datetime(2026, 10, 5, 9, tzinfo=UTC),
        settings=settings,
    )
    session.commit()
    return city


def fits(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= 360


def test_a_resident_reads_the_report_on_a_phone(page: Page, site, report, shot):
    page.goto(f"{site}/login")
    page.locator("#username").fill("resident")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    expect(page.get_by_role("heading", name="My apartments")).to_be_visible()
    page.get_by_role("link", name="The building's money").first.click()
    expect(page.get_by_role("heading", name="The building's money")).to_be_visible()
    expect(page.locator("#reports")).to_contain_text("2026-Q3")
    fits(page)
    shot("account")
    page.get_by_role("link", name="2026-Q3").click()
    expect(page.get_by_role("heading", name="Report for 2026-Q3")).to_be_visible()
    expect(page.locator("#figures")).to_contain_text("UZS90,000.00")  # income: the fee paid
    expect(page.locator("#categories")).to_contain_text("Cleaning: UZS25,000.00")
    expect(page.locator("#works")).to_contain_text("Toza Hovli")
    expect(page.locator("#debt")).to_contain_text("UZS0.00")
    expect(page.locator("#state")).not_to_contain_text("late")
    expect(page.get_by_role("button", name="Publish")).to_have_count(0)
    fits(page)
    shot("report")
    pdf = page.request.get(f"{site}/buildings/{report.building_a.id}/money/2026-Q3.pdf")
    assert pdf.ok and pdf.body().startswith(b"%PDF")
