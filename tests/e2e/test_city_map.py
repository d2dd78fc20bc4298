"""The city map and its list in a real browser, in Uzbek, at a phone's and a desktop's width.

An official opens the map from the city dashboard's tabs, sees every building drawn (the
script sets `data-drawn` to the points it drew) and the legend counted, narrows it to one
company with the GET form, and clicks the one point left through to its building view.
The list shows the same buildings and links to the same views; a company's manager finds only
their company's building on both. No tile server: a plain background, nothing fetched from
outside (the page fixture fails the test on any console error), and the building view that
a point or a row opens is the real one.
"""

import re
from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from housing.db import utcnow
from housing.twin.grading import COMPONENTS, Component, Grade
from housing.twin.models import BuildingGrade
from tests.conftest import make_settings
from tests.factories.core import PASSWORD, make_building
from tests.integration.stripe_helpers import serving

pytestmark = pytest.mark.e2e

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 360, "height": 740}

# Strings of the catalog already translated (the map's own join them when the lead merges
# housing/locale/pending/map.uz.po): the filter form and the list's columns.
UZ = {
    "log_in": "Kirish",
    "district": "Tuman",
    "company": "Kompaniya",
    "show": "Koʻrsatish",
    "address": "Manzil",
}


@pytest.fixture
def settings(database_url):
    return make_settings(database_url)


@pytest.fixture
def site(app) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def mapped(session: Session, city):
    """The city's two buildings apart on the map, graded, and a third of company B's, ungraded."""
    a, b = city.building_a, city.building_b
    a.latitude, a.longitude = 41.345, 69.285
    b.latitude, b.longitude = 41.300, 69.240
    session.add_all([a, b])
    third = make_building(session, city.company_b, district_id=a.district_id, latitude=41.29, longitude=69.25)
    today = date.today()
    for building, colour in ((a, Grade.green), (b, Grade.red)):
        session.add(
            BuildingGrade(
                building_id=building.id,
                grade=colour,
                components=[Component(name, None).as_json() for name in COMPONENTS],
                graded_on=today - timedelta(days=1),
                graded_at=utcnow(),
                since=today - timedelta(days=1),
            )
        )
    session.commit()
    return third


def log_in_uzbek(page: Page, site: str, username: str) -> None:
    page.goto(f"{site}/login")
    page.get_by_label("Language").select_option("uz")
    page.get_by_role("button", name="Change language").click()
    page.locator("#username").fill(username)
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=UZ["log_in"], exact=True).click()
    expect(page).not_to_have_url(re.compile(r"/login"))


def leave_the_live_view(page: Page) -> None:
    """The building view keeps a live stream open; closed here, before the server stops."""
    page.goto("about:blank")


def drawn(page: Page, count: int) -> None:
    expect(page.locator("#twin-map")).to_have_attribute("data-ready", "1")
    expect(page.locator("#twin-map")).to_have_attribute("data-drawn", str(count))


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_an_official_reads_the_map_and_opens_a_building_in_uzbek(site, page: Page, city, mapped, shot, size):
    page.set_viewport_size(size)
    log_in_uzbek(page, site, "official")
    page.locator('nav.tabs a[href="/map"]').click()
    expect(page).to_have_url(re.compile(r"/map$"))
    expect(page.locator("html")).to_have_attribute("lang", "uz")
    drawn(page, 3)
    expect(page.get_by_label(UZ["district"])).to_be_visible()
    expect(page.get_by_label(UZ["company"])).to_be_visible()
    expect(page.get_by_role("button", name=UZ["show"])).to_be_visible()
    legend = page.locator("#map-legend")
    expect(legend.locator('[data-level="green"] [data-count]')).to_have_text("(1)")
    expect(legend.locator('[data-level="red"] [data-count]')).to_have_text("(1)")
    expect(legend.locator('[data-level="none"] [data-count]')).to_have_text("(1)")
    # No tile server: a plain background, the district's name at its buildings' centre.
    expect(page.locator(".leaflet-tile")).to_have_count(0)
    expect(page.locator(".district-label")).to_have_text(["Yunusobod"])
    shot("map")

    page.get_by_label(UZ["company"]).select_option(str(city.company_a.id))
    page.get_by_role("button", name=UZ["show"]).click()
    expect(page).to_have_url(re.compile(rf"company_id={city.company_a.id}"))
    drawn(page, 1)
    # One point: the map centres on it. Its popup links to the building view.
    page.locator("#twin-map").click()
    link = page.locator(".leaflet-popup a.building-link")
    expect(link).to_have_text(city.building_a.address)
    shot("popup")
    link.click()
    expect(page).to_have_url(re.compile(rf"/buildings/{city.building_a.id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(city.building_a.address)
    leave_the_live_view(page)


@pytest.mark.parametrize("size", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_the_list_is_the_same_buildings_and_opens_them_in_uzbek(site, page: Page, city, mapped, shot, size):
    page.set_viewport_size(size)
    log_in_uzbek(page, site, "official")
    page.goto(f"{site}/map")
    drawn(page, 3)
    page.locator("#to-list").click()
    expect(page).to_have_url(re.compile(r"/map/list\?layer=grade$"))
    expect(page.get_by_role("columnheader", name=UZ["address"])).to_be_visible()
    rows = page.locator("#map-buildings tbody tr")
    expect(rows).to_have_count(3)
    shot("list")
    page.get_by_label(UZ["company"]).select_option(str(city.company_b.id))
    page.get_by_role("button", name=UZ["show"]).click()
    expect(rows).to_have_count(2)
    page.get_by_role("link", name=city.building_b.address).click()
    expect(page).to_have_url(re.compile(rf"/buildings/{city.building_b.id}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(city.building_b.address)
    leave_the_live_view(page)


def test_a_manager_finds_only_their_companys_building_on_both(page: Page, site, city, mapped, shot):
    log_in_uzbek(page, site, "manager")
    page.locator('nav.nav a[href="/map"]').click()
    drawn(page, 1)
    expect(page.get_by_label(UZ["company"]).locator("option")).to_have_count(2)  # "all" and their own
    shot("manager-map")
    page.locator("#to-list").click()
    expect(page.locator("#map-buildings tbody tr")).to_have_count(1)
    expect(page.locator("#map-buildings")).not_to_contain_text(city.building_b.address)


def test_without_javascript_the_map_page_points_to_the_list(browser, site, city, mapped):
    context = browser.new_context(viewport=PHONE, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(f"{site}/login")
        page.locator("#username").fill("official")
        page.locator("#password").fill(PASSWORD)
        page.get_by_role("button", name="Log in", exact=True).click()
        page.goto(f"{site}/map?layer=debt")
        expect(page.locator("#to-list")).to_have_attribute("href", "/map/list?layer=debt")
        expect(page.locator("#twin-map")).to_have_attribute("data-drawn", "0")  # nothing drawn
        page.goto(f"{site}/map/list?layer=debt")
        expect(page.locator("#map-buildings tbody tr")).to_have_count(3)
    finally:
        context.close()
