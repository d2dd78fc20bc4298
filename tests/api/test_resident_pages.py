"""The resident portal through plain HTTP, as a browser without JavaScript uses it.

Forms carry the CSRF token the page gave them; pages speak the language the resident chose.
"""

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, func, select

from housing.accounts.models import User
from housing.i18n import LANGUAGE_COOKIE
from housing.registry.models import Apartment
from sensors.models import Reading
from tests.conftest import make_settings
from tests.factories.core import PASSWORD
from tests.factories.portal import make_home
from tests.pages import csrf_token, log_in, submit

ALWAYS_OPEN = {"window_start_day": 1, "window_end_day": 31}


@pytest.fixture
def settings(database_url):
    """Readings are accepted every day, so the tests do not depend on the calendar."""
    return make_settings(database_url, meters=ALWAYS_OPEN)


@pytest.fixture
def home(session: Session, city):
    made = make_home(session, city.home)
    session.commit()
    return made


@pytest.fixture
def resident(client, city, home):
    """The client signed in as the resident, through the login form."""
    answer = log_in(client, "resident", PASSWORD)
    assert answer.status_code == 200, answer.text
    return client


def test_a_resident_lands_on_their_apartments_with_the_balance_in_uzbek(resident, city):
    page = resident.get("/")

    assert page.url.path == "/apartments"
    assert '<html lang="uz">' in page.text
    assert "510\xa0000,00\xa0soʻm" in page.text  # Babel's Uzbek money, no-break spaces
    assert "Mening xonadonlarim" in page.text
    assert f"/apartments/{city.neighbour.id}" not in page.text


def test_the_invoice_explains_every_line_in_english(resident, home):
    resident.cookies.set(LANGUAGE_COOKIE, "en")
    page = resident.get(f"/invoices/{home.invoice.id}")

    assert page.status_code == 200
    text = _text(page.text)
    assert "Quantity: 400 kWh, by your meter's readings." in text
    assert "Meter at the start of the month 1,000, at its end 1,400." in text
    assert "tier 1: 200 × UZS600.00 = UZS120,000.00 (up to 200)" in text
    assert "tier 2: 200 × UZS800.00 = UZS160,000.00 (up to 500)" in text
    assert "Deduction for poor service: −UZS10,000.00" in text
    assert "no power for 10 hours on 3 October" in text
    assert "To pay for this line: UZS270,000.00" in text
    assert "Quantity: 131.65 m², by the apartment's area." in text


def test_someone_elses_apartment_and_invoice_are_not_found(resident, session, city):
    from tests.factories.billing import make_billed_invoice

    theirs = make_billed_invoice(session, city.neighbour, 100)
    session.commit()

    pages = [
        resident.get(f"/apartments/{city.neighbour.id}"),
        resident.get(f"/invoices/{theirs.id}"),
        resident.get(f"/apartments/{city.neighbour.id}/meters"),
        resident.get(f"/apartments/{city.neighbour.id}/pay"),
    ]
    assert [page.status_code for page in pages] == [404, 404, 404, 404]
    assert all(city.neighbour.account_number not in page.text for page in pages)
    assert f"invoice {theirs.id} not found" in pages[1].text


def test_the_language_switch_is_kept_on_the_account(resident, client, app, session):
    answer = submit(resident, "/apartments", "/language", {"language": "ru", "next": "/apartments"})

    assert answer.url.path == "/apartments"
    assert '<html lang="ru">' in answer.text and "Мои квартиры" in answer.text
    assert "510\xa0000,00\xa0UZS" in answer.text
    with Session(app.state.engine) as fresh:
        assert fresh.exec(select(User.language).where(User.username == "resident")).one() == "ru"
    # Another browser: no cookie of ours, an English Accept-Language; the account still decides.
    resident.cookies.clear()
    resident.headers["accept-language"] = "en"
    again = log_in(resident, "resident", PASSWORD)
    assert '<html lang="ru">' in again.text


def test_a_visitor_gets_the_browsers_language_then_the_cookie(client, db):
    assert '<html lang="ru">' in client.get("/login", headers={"accept-language": "ru-RU,ru;q=0.9"}).text
    assert '<html lang="uz">' in client.get("/login", headers={"accept-language": "de"}).text

    answer = submit(
        client,
        "/login",
        "/language",
        {"language": "en", "next": "https://evil.example/"},
        follow_redirects=False,
    )

    assert answer.headers["location"] == "/"  # never a redirect off the site
    assert client.cookies.get(LANGUAGE_COOKIE) == "en"
    assert "Log in" in client.get("/login", headers={"accept-language": "ru"}).text


def test_a_form_without_its_token_is_refused_and_changes_nothing(resident, home, session, app):
    resident.cookies.set(LANGUAGE_COOKIE, "en")
    forged = [
        resident.post("/language", data={"language": "ru"}),
        resident.post(f"/meters/{home.meter.id}/readings", data={"value": "999"}),
        resident.post(f"/meters/{home.meter.id}/readings", data={"value": "999", "csrftoken": "forged"}),
        resident.post("/logout"),
    ]

    assert [r.status_code for r in forged] == [403, 403, 403, 403]
    assert "The form has expired" in forged[0].text
    with Session(app.state.engine) as fresh:
        assert fresh.exec(select(User.language).where(User.username == "resident")).one() is None
        assert fresh.exec(select(func.count()).select_from(Reading).where(Reading.value == 999)).one() == 0
    assert resident.get("/apartments").status_code == 200  # still signed in


def test_a_login_form_posted_from_elsewhere_is_refused(client, city):
    answer = client.post("/login", data={"username": "resident", "password": PASSWORD})

    assert answer.status_code == 403
    assert "housing_session" not in client.cookies


def test_a_reading_sent_without_javascript_shows_in_this_months_bar(resident, home, app):
    resident.cookies.set(LANGUAGE_COOKIE, "en")
    url = f"/apartments/{home.meter.apartment_id}/meters"
    new_value = home.latest_value + 2

    answer = submit(resident, url, f"/meters/{home.meter.id}/readings", {"value": f"{new_value}"})

    assert answer.url.path == url and "Thank you, the reading is saved." in answer.text
    bars = _bars(answer.text, home.meter.id)
    assert len(bars) == 12
    this_month = datetime.now(ZoneInfo(app.state.settings.timezone)).strftime("%Y-%m-01")
    assert bars[-1][0] == this_month and bars[-1][1] not in ("", "0")
    assert all(quantity for _, quantity in bars[1:-1])  # the readings cover the earlier months


def test_a_wrong_reading_is_explained_next_to_the_field(resident, home):
    resident.cookies.set(LANGUAGE_COOKIE, "en")
    url = f"/apartments/{home.meter.apartment_id}/meters"
    action = f"/meters/{home.meter.id}/readings"

    not_a_number = submit(resident, url, action, {"value": "twelve"})
    backwards = submit(resident, url, action, {"value": "1"})

    assert not_a_number.status_code == 422
    assert f'aria-describedby="value-error-{home.meter.id}"' in not_a_number.text
    assert "Enter the number the meter shows" in _error_of(not_a_number.text, home.meter.id)
    assert 'value="twelve"' in not_a_number.text
    assert backwards.status_code == 422
    assert "does not go backwards" in _error_of(backwards.text, home.meter.id)


def test_the_reading_form_says_when_the_window_is_closed(client, city, home, database_url, session):
    from fastapi.testclient import TestClient

    from housing.app import create_app

    today = datetime.now(ZoneInfo("Asia/Tashkent")).day
    shut = {"window_start_day": today % 28 + 1, "window_end_day": today % 28 + 1}  # never today
    with TestClient(create_app(make_settings(database_url, meters=shut), engine=session.get_bind())) as other:
        log_in(other, "resident", PASSWORD)
        other.cookies.set(LANGUAGE_COOKIE, "en")
        page = other.get(f"/apartments/{home.meter.apartment_id}/meters")
        token = csrf_token(page.text)
        sent = other.post(f"/meters/{home.meter.id}/readings", data={"value": "500", "csrftoken": token})

    assert "The window for readings is closed today." in page.text
    assert sent.status_code == 422 and "Readings are accepted from day" in sent.text


def test_without_stripe_the_pay_page_says_so_instead_of_a_form(resident, home, city):
    resident.cookies.set(LANGUAGE_COOKIE, "en")
    page = resident.get(f"/apartments/{city.home.id}/pay")

    assert page.status_code == 200
    assert "Card payments are not available on this server" in page.text
    assert city.home.account_number in page.text
    assert 'name="amount"' not in page.text


def _text(html: str) -> str:
    """The page's words as a reader sees them: tags dropped, spaces collapsed."""
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).replace(" .", ".").replace(" ,", ",")


def _bars(html: str, meter_id: int) -> list[tuple[str, str]]:
    chart = html.split(f'id="chart-{meter_id}"', 1)[1].split("</svg>", 1)[0]
    return re.findall(r'data-month="([\d-]+)" data-quantity="([^"]*)"', chart)


def _error_of(html: str, meter_id: int) -> str:
    found = re.search(rf'id="value-error-{meter_id}">([^<]*)<', html)
    assert found, "no message next to the field"
    return found.group(1)


def test_the_apartments_page_costs_the_same_queries_for_one_home_or_four(resident, session, city, app):
    from sqlalchemy import event

    from housing.registry.service import add_ownership
    from tests.factories.billing import make_billed_invoice
    from tests.factories.core import make_apartment

    def queries_for_page() -> int:
        statements = []
        listener = lambda *args: statements.append(args[2])  # noqa: E731 - the statement text
        event.listen(app.state.engine, "before_cursor_execute", listener)
        try:
            assert resident.get("/apartments").status_code == 200
        finally:
            event.remove(app.state.engine, "before_cursor_execute", listener)
        return len(statements)

    one_home = queries_for_page()
    for number in ("7", "8", "9"):
        apartment = make_apartment(session, city.building_a, number=number)
        add_ownership(
            session,
            apartment_id=apartment.id,
            person_id=city.resident_person_id,
            share="1",
            valid_from=date(2020, 1, 1),
        )
        make_billed_invoice(session, apartment, 1_000_000)
    session.commit()

    four_homes = queries_for_page()
    assert resident.get("/apartments").text.count('class="card"') >= 4
    assert four_homes == one_home


def test_an_official_pages_through_every_apartment_of_the_city_once(client, session, city):
    """The city-wide roles see every apartment on /apartments: 50 a page, each once, next to the last."""
    from tests.factories.core import make_apartment

    for number in range(1, 121):
        make_apartment(session, city.building_b if number % 2 else city.building_a, number=f"{100 + number}")
    session.commit()
    everyone = set(session.exec(select(Apartment.id)).all())
    assert len(everyone) == 123
    seen: list[int] = []
    url, pages = "/apartments", 0
    while url:
        page = client.get(url, headers=city.headers["official"] | {"Accept": "text/html"})
        assert page.status_code == 200, page.text
        shown = [int(i) for i in re.findall(r'<h2><a href="/apartments/(\d+)">', page.text)]
        assert 0 < len(shown) <= 50
        seen += shown
        pages += 1
        found = re.search(r'href="([^"]+)" rel="next"', page.text)
        url = found.group(1).replace("&amp;", "&") if found else None
    assert pages == 3
    assert sorted(seen) == sorted(everyone)  # each apartment once, none left out
    beyond = client.get("/apartments?page=99", headers=city.headers["official"] | {"Accept": "text/html"})
    assert beyond.status_code == 200  # past the last page: the last page
    assert len(re.findall(r'<h2><a href="/apartments/(\d+)">', beyond.text)) == 23
