"""A real browser (Debian's Chromium through Playwright) against the app served on a free port.

localstripe stands in for Stripe: the pay page loads its stand-in Stripe.js (the
`HOUSING_STRIPE__JS_URL` setting points there) and its webhooks come back to the served app.
Each test gets a fresh browser context at a phone's width (360 px); screenshots of the
pages a journey passes through go to test-output/screenshots/.
"""

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.api.conftest import city  # noqa: F401 - a fixture, found by name
from tests.conftest import collect_garbage_now, make_settings
from tests.integration import stripe_helpers
from tests.integration.stripe_helpers import serving_for_stripe, stripe_group

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-output" / "screenshots"
PHONE = {"width": 360, "height": 740}

localstripe = stripe_helpers.localstripe  # a fixture, found by name


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium (.ci/run does)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=["--no-sandbox"]
        )
        yield browser
        browser.close()


@pytest.fixture
def settings(database_url, localstripe):
    """Stripe through localstripe and its stand-in Stripe.js; readings accepted any day."""
    return make_settings(
        database_url,
        stripe=stripe_group(localstripe, js_url=f"{localstripe}/js.stripe.com/v3/"),
        meters={"window_start_day": 1, "window_end_day": 31},
    )


@pytest.fixture
def site(app, localstripe) -> Iterator[str]:
    """The app served for real; localstripe's webhooks point at it."""
    with serving_for_stripe(app, localstripe) as url:
        yield url


@pytest.fixture
def page(browser: Browser, request) -> Iterator[Page]:
    collect_garbage_now()  # not inside a page load with a deadline
    context = browser.new_context(viewport=PHONE, locale="en-US")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    yield page
    context.close()
    assert problems == [], f"the browser reported errors: {problems}"


class Shots:
    """Numbered full-page screenshots of one test, named after it."""

    def __init__(self, page: Page, test_name: str) -> None:
        self.page = page
        self.prefix = re.sub(r"[^\w-]+", "_", test_name)
        self.count = 0
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)

    def __call__(self, what: str) -> Path:
        self.count += 1
        path = SCREENSHOTS / f"{self.prefix}-{self.count:02d}-{what}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path


@pytest.fixture
def shot(page: Page, request) -> Shots:
    return Shots(page, request.node.name)
