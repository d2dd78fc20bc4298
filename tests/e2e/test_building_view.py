"""The building view in Chromium at a phone's and a desktop's width, with and without JavaScript.

SQLite or PostgreSQL; no broker: the data is written by the factories (the simulator's way in
is tests/e2e/test_building_view_live.py).
"""

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from housing.accounts.models import User
from tests.api import test_twin_view
from tests.conftest import make_settings
from tests.factories.core import PASSWORD
from tests.servers import listening_socket, serving_in_thread

DESKTOP = {"width": 1280, "height": 900}
twin = test_twin_view.twin  # a fixture, found by name


@pytest.fixture
def settings(database_url):
    return make_settings(database_url, twin={"live_seconds": 0.5})


@pytest.fixture
def site(app) -> Iterator[str]:
    with serving_in_thread(app, listening_socket()) as url:
        yield url
    app.state.live.stop()


def log_in(page: Page, site: str, username: str) -> None:
    page.goto(f"{site}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.locator("form[action='/login'] button[type=submit]").click()
    page.wait_for_load_state()


def _fits_the_width(page: Page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_on_a_phone_the_view_fits_and_goes_live(site, twin, page: Page, shot):
    log_in(page, site, "official")
    page.goto(f"{site}/buildings/{twin.building.id}")
    expect(page.locator("#twin-status")).to_have_text("Updates itself while open.")
    expect(page.locator(f'.cell.mark-leak[data-apartment="{twin.leak.id}"]')).to_be_visible()
    expect(page.locator(f'.cell.mark-debt[data-apartment="{twin.indebted.id}"]')).to_be_visible()
    expect(page.locator("#twin-components tr[data-component]")).to_have_count(2)
    expect(page.locator("#twin-hot-water-chart polyline")).to_have_count(1)
    assert _fits_the_width(page)
    shot("official-phone")


def test_on_a_desktop_a_resident_sees_the_common_view(site, twin, browser: Browser, session):
    username = session.get(User, twin.resident_id).username
    context = browser.new_context(viewport=DESKTOP, locale="en-US")
    try:
        page = context.new_page()
        log_in(page, site, username)
        page.goto(f"{site}/buildings/{twin.building.id}")
        expect(page.locator("#twin-status")).to_have_text("Updates itself while open.")
        expect(page.locator("#twin-live")).to_have_attribute("data-event-id", re.compile(r"^[0-9a-f]{16}$"))
        home = page.locator(f'.cell[data-apartment="{twin.apartments["1"].id}"]')
        expect(home).to_have_class("cell home")  # outlined, also after a live update swapped the grid
        expect(page.locator(".cell.mark-debt")).to_have_count(0)
        expect(page.locator(".cell.mark-request")).to_have_count(0)
        expect(page.locator(f'[data-request="{twin.request.id}"]')).to_have_count(0)
        assert _fits_the_width(page)
    finally:
        context.close()


def test_without_javascript_the_state_and_a_refresh_link(site, twin, browser: Browser):
    context = browser.new_context(viewport={"width": 360, "height": 740}, java_script_enabled=False)
    try:
        page = context.new_page()
        log_in(page, site, "manager")
        page.goto(f"{site}/buildings/{twin.building.id}")
        expect(page.locator("#twin-read-at")).to_contain_text("As read at")
        expect(page.locator(".cell.mark-cold")).to_have_count(1)
        expect(page.locator("#twin-status")).to_have_text("")
        page.locator("a.twin-refresh").click()
        expect(page).to_have_url(f"{site}/buildings/{twin.building.id}")
    finally:
        context.close()
