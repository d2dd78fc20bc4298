"""/docs (Swagger UI) and /redoc (ReDoc) in a real browser: every asset from our own origin,
the operations listed, and no error in the console (a CSP violation is one)."""

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from tests.conftest import make_settings
from tests.e2e.conftest import SCREENSHOTS
from tests.servers import listening_socket, serving_in_thread


@pytest.fixture
def settings(database_url):
    return make_settings(database_url)  # no Stripe: the docs need nothing else


@pytest.fixture
def docs_site(app) -> Iterator[str]:
    with serving_in_thread(app, listening_socket()) as url:
        yield url


def _screenshot(page: Page, name: str) -> None:
    """What the window shows (the whole page is thousands of pixels long)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"api-docs-{name}.png"))


def _origins(page: Page) -> list[str]:
    seen: list[str] = []
    page.on("request", lambda request: seen.append(request.url))
    return seen


def _only_ours(requested: list[str], site: str) -> None:
    ours = urlsplit(site).netloc
    assert requested, "the page loaded nothing"
    assert [
        url for url in requested if urlsplit(url).scheme in ("http", "https") and urlsplit(url).netloc != ours
    ] == []


def test_swagger_ui_lists_the_operations_from_our_own_files(page: Page, docs_site):
    requested = _origins(page)
    page.goto(f"{docs_site}/docs")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 50
    token = page.locator(".opblock-summary-path[data-path='/api/v1/auth/token']")
    assert token.count() == 1
    token.click()  # an operation opens with its parameters
    page.locator(".opblock.is-open .parameters-container, .opblock.is-open .opblock-section").first.wait_for()
    _screenshot(page, "swagger-ui")
    _only_ours(requested, docs_site)
    assert any(url.endswith("/static/docs/swagger-ui-bundle.js") for url in requested)


def test_redoc_lists_the_operations_from_our_own_files(page: Page, docs_site):
    requested = _origins(page)
    page.set_viewport_size({"width": 1280, "height": 900})  # the sidebar with its search shows
    page.goto(f"{docs_site}/redoc")
    page.locator("[data-section-id^='operation/']").first.wait_for()
    assert page.locator("[data-section-id^='operation/']").count() > 50
    assert page.get_by_text("/api/v1/auth/token").first.is_visible()
    page.locator("input[placeholder='Search...']").fill("invoice")  # the search worker runs
    found = page.locator("[data-role='search:results'] li")
    found.first.wait_for()
    assert "GET\nList Invoices" in found.all_inner_texts()
    _screenshot(page, "redoc")
    _only_ours(requested, docs_site)
    assert any(url.endswith("/static/docs/redoc.standalone.js") for url in requested)
