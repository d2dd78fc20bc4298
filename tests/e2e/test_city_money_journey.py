"""An official compares what companies spend per m2 in a real browser at a phone's width: the
comparison page names the company whose building stands out, the method is explained beside it,
the CSV holds the same rows, and the late reports page names the building that has not reported.
No card payments here, so the app is served without Stripe."""

from collections.abc import Iterator
from decimal import Decimal

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from housing.building_money.rules import Quarter
from tests.conftest import make_settings
from tests.factories.city_money import publish
from tests.factories.core import PASSWORD, make_building
from tests.integration.stripe_helpers import serving

pytestmark = pytest.mark.e2e
Q3 = Quarter(2026, 3)
AREA = Decimal("1000.00")


@pytest.fixture
def settings(database_url):
    return make_settings(database_url)


@pytest.fixture
def site(app) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def costs(session: Session, city):
    """Company A's three buildings clean for 10, 12 and 14 UZS a m2; company B's two for 11 and
    300 (the outlier); a fourth building of A, the one returned, has not reported on 2026-Q3,
    long past its due day."""
    district = city.building_a.district_id
    a = [city.building_a] + [make_building(session, city.company_a, district_id=district) for _ in range(2)]
    b = [
        city.building_b,
        make_building(session, city.company_b, district_id=district, address="Bunyodkor 300"),
    ]
    for building, uzs in zip(a + b, (10, 12, 14, 11, 300), strict=True):
        publish(session, building, Q3, lines={"cleaning": uzs * 1000 * 100}, area_m2=AREA)
    silent = make_building(session, city.company_a, district_id=district, address="Navoiy 7")
    session.commit()
    return silent


def test_an_official_compares_companies_and_finds_the_late_report(page: Page, site, city, costs, shot):
    page.set_viewport_size({"width": 360, "height": 800})
    page.goto(f"{site}/login")
    page.locator("#username").fill("official")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()
    page.goto(f"{site}/city/money")
    page.get_by_label("Category").select_option("cleaning")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Cost per m², 2026-Q3")
    company_b = page.locator(f'#companies tr[data-company="{city.company_b.id}"]')
    expect(company_b.locator('[data-figure="median"]')).to_have_text("155.50")
    expect(company_b.locator('[data-figure="n"]')).to_have_text("2")
    expect(company_b.locator('[data-figure="outliers"]')).to_have_text("1 high, 0 low")
    company_a = page.locator(f'#companies tr[data-company="{city.company_a.id}"]')
    expect(company_a.locator('[data-figure="median"]')).to_have_text("12.00")
    expect(page.locator("#outliers")).to_contain_text("Bunyodkor 300")
    expect(page.locator("#method")).to_contain_text("Iglewicz")
    assert page.evaluate("document.documentElement.scrollWidth") <= 360
    shot("comparison")
    csv = page.request.get(f"{site}/city/money.csv?quarter=2026-Q3&category=cleaning")
    assert csv.ok
    company_lines = [line for line in csv.text().splitlines() if ",company," in line]
    assert any(f",company,{city.company_b.id},Chilonzor Uy-Joy,2,155.5," in line for line in company_lines)
    assert any(f",company,{city.company_a.id},Yunusobod Servis,3,12.0," in line for line in company_lines)
    page.get_by_role("link", name="Late reports").click()
    page.get_by_label("Quarter").select_option("2026-Q3")  # later quarters fall due as time passes
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#late")).to_contain_text("Navoiy 7")
    expect(page.locator("#late")).not_to_contain_text("Bunyodkor 300")
    shot("late")
