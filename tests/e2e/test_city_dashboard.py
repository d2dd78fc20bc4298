"""An official's journeys through the city dashboard in a real browser at a phone's width.

The official opens October's ranking with the month picker and reads a company's
components; a resident then rates one of that company's October requests, the scores
are recomputed (as the nightly job would), and the official's page shows the new rating
counted and the total moved. No card payments here, so the app is served without Stripe.
"""

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from playwright.sync_api import Page, expect
from sqlmodel import Session

from housing.accounts.models import User
from housing.db import utcnow
from housing.requests import service as requests
from tests.conftest import make_settings
from tests.factories.city import OCTOBER, make_scored_city, rescore
from tests.factories.core import PASSWORD
from tests.factories.scores import add_request, local, make_category
from tests.integration.stripe_helpers import serving

pytestmark = pytest.mark.e2e

WORDS = {
    "en": {
        "log_in": "Log in",
        "ranking": "Company ranking, October 2026",
        "show": "Show",
        "satisfaction": "Resident satisfaction",
        "escalated": "Escalated requests",
        "incidents": "Incidents",
        "trend": "Quality score, November 2025 – October 2026",
    },
    "uz": {
        "log_in": "Kirish",
        "ranking": "Kompaniyalar reytingi, Oktabr 2026",
        "show": "Koʻrsatish",
        "satisfaction": "Aholi mamnunligi",
        "escalated": "Shaharga oshirilgan murojaatlar",
        "incidents": "Uzilishlar",
        "trend": "Sifat bahosi, Noyabr 2025 – Oktabr 2026",
    },
}


@pytest.fixture
def settings(database_url):
    return make_settings(database_url)


@pytest.fixture
def site(app) -> Iterator[str]:
    with serving(app) as url:
        yield url


@pytest.fixture
def scored(session: Session, city):
    return make_scored_city(session, city)


def log_in(page: Page, site: str, language: str) -> None:
    page.goto(f"{site}/login")
    if language != "en":
        page.get_by_label("Language").select_option(language)
        page.get_by_role("button", name="Change language").click()
    page.locator("#username").fill("official")
    page.locator("#password").fill(PASSWORD)
    page.get_by_role("button", name=WORDS[language]["log_in"], exact=True).click()


def open_october(page: Page, language: str) -> None:
    page.get_by_label({"en": "Month", "uz": "Oy"}[language]).fill(OCTOBER)
    page.get_by_role("button", name=WORDS[language]["show"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(WORDS[language]["ranking"])


def figures(page: Page, company_id: int) -> tuple[str, str]:
    """The company's total and its resident satisfaction cell, as the official reads them."""
    row = page.locator(f'tr[data-company="{company_id}"]')
    return (
        row.locator(".total").inner_text(),
        row.locator('td[data-component="resident_satisfaction"]').inner_text(),
    )


@pytest.mark.parametrize("language", ["en", "uz"])
def test_an_official_sees_a_new_rating_move_the_companys_score(
    page: Page, site, session, city, scored, shot, language
):
    words = WORDS[language]
    # A request of company A in October, resolved and not rated yet, filed for the resident.
    pending = add_request(
        session,
        city.company_a,
        city.building_a,
        category=make_category(session),
        filed_by=session.get(User, city.users["resident"]),
        filed=local(2026, 10, 20, 9),
        resolved_after=timedelta(hours=2),
    )
    pending.requester_person_id, pending.apartment_id = city.resident_person_id, city.home.id
    session.commit()
    rescore(session)

    log_in(page, site, language)
    expect(page).to_have_url(re.compile(r"/city/scores"))
    open_october(page, language)
    row = page.locator(f'tr[data-company="{city.company_a.id}"]')
    expect(row.get_by_role("link", name="Yunusobod Servis")).to_be_visible()
    expect(page.get_by_role("columnheader", name=words["satisfaction"])).to_be_visible()
    total_before, satisfaction_before = figures(page, city.company_a.id)
    assert "n = 10" in satisfaction_before  # ten October requests rated 5
    shot("ranking")

    requests.rate_request(
        session, pending, person_id=city.resident_person_id, rating=1, comment="Still leaking", now=utcnow()
    )
    session.commit()
    rescore(session)  # what the nightly job does

    page.reload()
    total_after, satisfaction_after = figures(page, city.company_a.id)
    assert "n = 11" in satisfaction_after  # the new rating is counted
    assert _number(total_after) < _number(total_before)  # and one star pulled the score down
    shot("ranking-after-rating")


def test_an_official_reads_a_company_year_the_escalated_requests_and_the_incidents(
    page: Page, site, city, scored, shot
):
    log_in(page, site, "uz")
    open_october(page, "uz")
    page.locator(f'tr[data-company="{city.company_a.id}"]').get_by_role("link").click()

    expect(page.get_by_role("heading", name="Yunusobod Servis")).to_be_visible()
    expect(page.get_by_role("heading", name=WORDS["uz"]["trend"])).to_be_visible()
    chart = page.locator("#trend-chart")
    expect(chart).to_be_visible()
    expect(chart.locator("circle")).to_have_count(1)  # only October has a score
    expect(page.locator("#trend-table tbody tr")).to_have_count(12)
    shot("company")

    page.get_by_role("link", name=WORDS["uz"]["escalated"]).click()
    expect(page.get_by_role("heading", level=1)).to_have_text(WORDS["uz"]["escalated"])
    shot("escalated")

    page.get_by_role("link", name=WORDS["uz"]["incidents"], exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(WORDS["uz"]["incidents"])
    shot("incidents")


def _number(shown: str) -> float:
    return float(shown.replace("\xa0", "").replace(",", "."))
