"""Every page and every list at city scale: 100,000 apartments, opened as an official, an admin
and the manager of the largest company.

The city is the one `bench/web.py` measures its pages on, seeded by that script's own
function once for this module's tests and wiped after them (`seed_page_city`: `seed_city`,
the request categories, an issued invoice and a ledger charge for every apartment, service
requests for every company), plus what the pages need an id of (a meter, a sensor, a
tariff, a payment, a photo, last month's scores) and enough escalated requests and
incidents to make the city's lists longer than a page. The routes are not listed by hand:
every GET route of the app is opened with its path ids filled from that data, and each
answer must be (or 403 where FORBIDDEN says the role may not look)

- 200, in well under the time a gateway would wait, and at most MAX_PAGE_BYTES long;
- a list of at most its page size: at most MAX_ROWS rows in any table or list of an HTML
  page, at most `limit` items in a JSON page (and a plain JSON array at most
  MAX_JSON_ARRAY long);
- with a working next page where there are more rows: the HTML `rel="next"` link (which
  the long lists of this city must show), the JSON `offset` of the next page and a CSV
  export's `Link: <...>; rel="next"` answer 200 with other rows.

It runs on PostgreSQL only, where a query with one bound parameter per apartment fails
(PostgreSQL takes at most 65,535 parameters; the seeding SQL is PostgreSQL's too). On
SQLite the pages' paging is covered by the API and page tests on a small city.
"""

import importlib.util
import json
import os
import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit
from zoneinfo import ZoneInfo

import pytest
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlmodel import Session

from billing.building_accounts.reports import publish_report
from billing.models import Gateway, Instalment, InstalmentPlan, InstalmentPlanInvoice
from billing.payments import service as payments
from billing.payments.reconciliation.service import reconcile_day
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing import clock
from housing.accounts.models import Role
from housing.actors import Actor
from housing.announcements.models import Reach
from housing.announcements.service import Attachment, Wording, post_announcement
from housing.app import create_app
from housing.building_money.documents import Upload, attach_expense_document
from housing.building_money.rules import ExpenseCategory, Quarter
from housing.building_money.service import ExpenseInput, record_expense
from housing.meetings import closing, drafting, publishing, reading, voting
from housing.meetings.chain import receipt_of
from housing.meetings.rules import Choice, DecisionKind
from housing.notifications.models import Notification
from housing.registry.models import Apartment
from housing.requests.models import ServiceRequest
from housing.requests.service import attach_photo
from housing.scores.service import recompute_month
from sensors.models import MeterKind, SensorKind
from tests.conftest import _wipe, make_settings
from tests.factories.core import login, make_user
from tests.factories.readings import make_meter, make_sensor
from tests.factories.requests import png_bytes

ON_POSTGRES = "postgresql" in (os.environ.get("HOUSING_TEST_DATABASE_URL") or "")
SKIP_REASON = (
    "the 100,000-apartment city is seeded by bench/web.py's PostgreSQL SQL, and PostgreSQL's "
    "65,535-parameter limit is what an unbounded IN list breaks; set HOUSING_TEST_DATABASE_URL"
)

ROOT = Path(__file__).resolve().parents[2]
APARTMENTS = 100_000
REQUESTS_PER_COMPANY = 300
MAX_PAGE_BYTES = 256 * 1024  # the demo's 3,000 apartments made a 1.8 MB page
MAX_ROWS = 100  # the longest page size of any HTML list
MAX_OPTIONS = 1_000  # a filter's choices: the city's companies (900+ at Tashkent's scale)
MAX_JSON_ARRAY = 1_000  # Open311's requests list: the spec's own cap
MAX_SECONDS = 5.0
# GeoReport v2 has no paging: a list is at most 1,000 requests (the spec's suggested cap) of
# at most 90 days, and a client narrows it by dates; 1,000 requests are about 600 kB of JSON.
# A CSV export is at most housing.dashboard.EXPORT_ROWS rows a part, about 1 MB.
MAX_BYTES_OF = {
    "/open311/v2/requests.{fmt}": 2 * 1024 * 1024,
    "/city/requests.csv": 2 * 1024 * 1024,
    "/city/incidents.csv": 2 * 1024 * 1024,
}
# Exports longer than a part on this city: each must name its next part (Link: rel="next").
LONG_EXPORTS = {"/city/requests.csv"}
ROLES = ("official", "admin", "manager")  # the manager of the company with the most apartments
TIMEZONE = "Asia/Tashkent"

# Routes that are not a page or a list of ours, and why.
NOT_PAGES = {
    "/api/v1/openapi.json": "the API's schema, not data",
    "/docs": "the API's documentation",
    "/docs/oauth2-redirect": "the API documentation's OAuth2 helper",
    "/redoc": "the API's documentation",
    "/healthz": "the health check",
    "/static/docs/redoc.standalone.js": "the API documentation's script, a static file",
    "/buildings/{building_id}/live": "a live view's event stream, open until the browser leaves (test_twin_live.py)",
}
# Query values for the parameters some routes require.
REQUIRED_QUERY = {
    "start": "2026-10-01T00:00:00+05:00",
    "end": "2026-11-01T00:00:00+05:00",
    "period": "2026-10",
}
# HTML lists longer than a page on this city: each must show a next link. The manager's
# company has about 600 apartments in about 10 buildings, 300 requests, a fifth open.
CITY_LONG_LISTS = {
    "/apartments",
    "/console/buildings",
    "/console/debtors",
    "/console/payments",
    "/console/payments/reconciliation",
    "/console/requests",
    "/city/scores",
    "/city/requests",
    "/city/incidents",
    "/map/list",
}
LONG_LISTS = {
    "official": CITY_LONG_LISTS,
    "admin": CITY_LONG_LISTS,
    "manager": {"/apartments", "/console/debtors", "/console/payments", "/console/requests"},
}
# What a role may not open (403): the console is for company staff and admins, filing and
# notices for residents (a dispatcher files for a caller), accounts and raw messages for admins.
CONSOLE = {
    "/console/requests",
    "/console/requests/new",
    "/console/buildings",
    "/console/buildings/{building_id}",
    "/console/alerts",
    "/console/debtors",
    "/console/debtors.csv",
    "/console/billing",
    "/console/apartments/{apartment_id}/instalment-plans",
    "/console/money/reports",
    "/console/money",
    "/console/money/buildings/{building_id}",
    "/console/money/shared",
    "/console/payments",
    "/console/payments/daily",
    "/console/payments/reconciliation",
}
RESIDENTS_ONLY = {
    "/notices",
    "/notices/{notification_id}",
    "/notices/announcements/{announcement_id}",
    # Owners' meetings as owners see them; staff and officials have the console's and the city's.
    "/meetings",
    "/meetings/initiatives/new",
    "/meetings/{meeting_id}",
    "/meetings/{meeting_id}/receipt",
    "/meetings/{meeting_id}/documents/{document_id}",
    "/meetings/{meeting_id}/protocol.pdf",
}
CITY = {
    "/city",
    "/city/scores",
    "/city/scores.csv",
    "/city/companies/{company_id}",
    "/city/companies/{company_id}/scores.csv",
    "/city/requests",
    "/city/requests.csv",
    "/city/incidents",
    "/city/incidents.csv",
    "/city/meetings",
    "/api/v1/city/meetings",
    "/city/money",
    "/city/money.csv",
    "/city/money/late",
    "/city/money/late.csv",
    "/api/v1/city/building-costs",
    "/api/v1/city/late-reports",
    "/city/payments",
    "/api/v1/city/payments/daily",
    "/city/grades",
    "/city/grades.csv",
    "/city/grade-changes.csv",
    "/city/cold",
    "/api/v1/city/grades",
    "/api/v1/city/cold-now",
}
FORBIDDEN = {
    "official": CONSOLE
    | {
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/rejected-messages",
        "/requests",
        "/requests/new",
        "/requests/{request_id}",
        "/console/notifications",
        "/api/v1/notifications/{notification_id}/deliveries",
        "/console/meetings/new",  # officials read meetings; they do not call them
        "/api/v1/reconciliations",  # the console's reconciliation; officials read /city/payments
        "/api/v1/reconciliation-differences",
    }
    | RESIDENTS_ONLY,
    "admin": {"/requests/new", "/console/requests/new"} | RESIDENTS_ONLY,
    "manager": CITY
    | {
        "/api/v1/users",
        "/api/v1/users/{user_id}",
        "/api/v1/rejected-messages",
        "/requests/new",
        "/console/billing",
    }
    | RESIDENTS_ONLY,
}


@dataclass(frozen=True)
class Route:
    path: str  # the template, e.g. /apartments/{apartment_id}
    required: tuple[str, ...]  # required query parameters


def _get_routes() -> list[Route]:
    app = create_app(make_settings("sqlite://"))
    found = []
    for route in iter_route_contexts(app.router.routes):
        if "GET" not in (getattr(route, "methods", None) or ()) or route.path in NOT_PAGES:
            continue
        dependant = getattr(getattr(route, "original_route", route), "dependant", None)
        found.append(Route(route.path, tuple(sorted(_required(dependant)))))
    return found


def _required(dependant) -> set[str]:
    if dependant is None:
        return set()
    names = {q.alias or q.name for q in dependant.query_params if q.field_info.is_required()}
    for sub in dependant.dependencies:
        names |= _required(sub)
    return names


ROUTES = _get_routes()


def _load_bench(name: str):
    """A bench/ script as a module (its folder on the path while it loads, for benchkit)."""
    folder = str(ROOT / "bench")
    sys.path.insert(0, folder)
    try:
        spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(folder)
    return module


@pytest.fixture(scope="module")
def photo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("photos")


@pytest.fixture(scope="module")
def big_city(engine: Engine, database_url: str, photo_dir: Path) -> Iterator[dict[str, str]]:
    """Seeds the 100,000-apartment city once (for this module: the tests after it find it wiped); the
    path values every route needs."""
    _wipe(engine)
    started = time.perf_counter()
    _load_bench("web").seed_page_city(
        database_url, apartments=APARTMENTS, requests_per_company=REQUESTS_PER_COMPANY
    )
    seed_tashkent_tariffs(engine)
    _gateway_payments(engine)
    with engine.begin() as connection:  # the city dashboard's lists longer than a page too
        connection.execute(
            text(
                "UPDATE service_request SET escalated = true, overdue = true "
                "WHERE status = 'accepted'"  # about 10,000: more than one CSV export part
            )
        )
        connection.execute(
            text(
                "INSERT INTO service_incident (building_id, utility, source, origin, started_at, ended_at, "
                "detail, created_at) SELECT id, 'hot_water', 'sensor', 'sensor:SCALE-' || id, "
                "now() - interval '3 days', now() - interval '2 days', '', now() FROM building"
            )
        )
        # The last quarter's reports: three buildings in four published, a line in each category.
        quarter = Quarter.of(date.today()).previous()
        connection.execute(
            text(
                "INSERT INTO building_report (building_id, company_id, year, quarter, currency, area_m2, "
                "opening_balance_minor, income_minor, income_late_minor, expenses_minor, closing_balance_minor, "
                "collected_to_date_minor, debt_minor, accounts_in_debt, accounts, body, due_on, on_time, "
                "published_at, created_at) SELECT b.id, bm.company_id, :year, :number, 'UZS', "
                "(SELECT coalesce(sum(a.area_m2), 0) FROM apartment a WHERE a.building_id = b.id), "
                "0, 0, 0, 0, 0, 0, 0, 0, 0, '{}', :due_on, b.id % 8 <> 1, now(), now() FROM building b "
                "JOIN building_management bm ON bm.building_id = b.id AND bm.valid_until IS NULL WHERE b.id % 4 <> 0"
            ),
            {"year": quarter.year, "number": quarter.number, "due_on": quarter.due_on(30)},
        )
        connection.execute(
            text(
                "INSERT INTO building_report_line (report_id, building_id, company_id, district_id, year, quarter, "
                "category, amount_minor, area_m2) SELECT r.id, r.building_id, r.company_id, b.district_id, r.year, "
                "r.quarter, c.category, 1 + (r.area_m2 * 90000 * (0.5 + random()))::bigint, r.area_m2 "
                "FROM building_report r JOIN building b ON b.id = r.building_id "
                "CROSS JOIN unnest(CAST(:categories AS text[])) AS c(category)"
            ),
            {"categories": [c.value for c in ExpenseCategory]},
        )
    with Session(engine, expire_on_commit=False) as session:
        largest = session.execute(  # the manager's company: the one with the most apartments
            text(
                "SELECT bm.company_id FROM building_management bm JOIN apartment a ON a.building_id = "
                "bm.building_id WHERE bm.valid_until IS NULL GROUP BY 1 ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
        row = session.execute(  # path ids within that company, so that every role may see them
            text(
                "SELECT a.id, a.building_id, bm.company_id, b.district_id, o.person_id, i.id "
                "FROM apartment a JOIN building b ON b.id = a.building_id "
                "JOIN building_management bm ON bm.building_id = a.building_id AND bm.valid_until IS NULL "
                "JOIN ownership o ON o.apartment_id = a.id JOIN invoice i ON i.apartment_id = a.id "
                "WHERE bm.company_id = :company ORDER BY a.id LIMIT 1"
            ),
            {"company": largest},
        ).one()
        apartment_id, building_id, company_id, district_id, person_id, invoice_id = row
        request_id, category_code = session.execute(
            text(
                "SELECT r.id, c.code FROM service_request r JOIN request_category c ON c.id = r.category_id "
                "WHERE r.building_id = :b ORDER BY r.id LIMIT 1"
            ),
            {"b": building_id},
        ).one()
        users = {
            role: make_user(
                session,
                Role(role),
                username=f"scale-{role}",
                company_id=largest if role == "manager" else None,
            )
            for role in ROLES
        }
        now = datetime.now(UTC)
        last_month = clock.add_months(clock.month_at(now, TIMEZONE), -1)
        recompute_month(session, clock.month(last_month, TIMEZONE), now=now)  # the ranking's rows
        apartment = session.get(Apartment, apartment_id)
        meter = make_meter(session, apartment=apartment, kind=MeterKind.cold_water)
        sensor = make_sensor(session, SensorKind.indoor_temperature, apartment=apartment)
        payment = payments.record_manual_payment(
            session,
            apartment_id=apartment_id,
            amount_minor=1_000_000,
            gateway=Gateway.bank,
            reference="scale-1",
            paid_at=datetime.now(UTC) - timedelta(days=1),
            user_id=users["admin"].id,
        )
        photo = attach_photo(
            session,
            session.get(ServiceRequest, request_id),
            data=png_bytes(),
            uploaded_by_id=users["admin"].id,
            photo_dir=photo_dir,
            max_bytes=1 << 20,
            max_photos=5,
        )
        official = Actor(users["official"].id, "scale-official", Role.official, None, None, 0)
        announcement = post_announcement(  # city-wide, so that every role sees it; with a file
            session,
            actor=official,
            texts={"en": Wording("Heating season", "Heating is on.")},
            reach=Reach.city,
            attachment=Attachment(png_bytes(), photo_dir, 1 << 20),
            notice_chars=500,
            today=clock.local_today(TIMEZONE),
            now=now,
        )
        meeting, document, proxy, ballot = _closed_meeting(
            session, users["manager"], building_id, photo_dir, now
        )
        expense, expense_document = _documented_expense(session, users["manager"], building_id, photo_dir)
        # A report published through the service on the building, so residents and officials read
        # it too; a quarter before the last one, which the SQL above published for most buildings.
        admin = Actor(users["admin"].id, "scale-admin", Role.admin, None, None, 0)
        publish_report(
            session,
            admin,
            building_id=building_id,
            quarter=Quarter(2026, 2),
            today=date(2026, 8, 5),
            now=now,
            settings=make_settings(database_url),
        )
        # The manager's own notice: in the manager's scope of deliveries, as in the admin's.
        notice = Notification(user_id=users["manager"].id, kind="payment_received", created_at=now)
        session.add(notice)
        today = clock.local_today(TIMEZONE)
        plan = InstalmentPlan(apartment_id=apartment_id, agreed_on=today, covered_minor=1_000, created_at=now)
        session.add(plan)
        session.flush()
        session.add(InstalmentPlanInvoice(plan_id=plan.id, invoice_id=invoice_id))
        session.add(
            Instalment(plan_id=plan.id, position=1, due_on=today + timedelta(days=30), amount_minor=1_000)
        )
        session.flush()
        values = {
            "meeting_id": meeting.id,
            "expense_id": expense.id,
            "expense_document_id": expense_document.id,
            "document_id": document.id,
            "proxy_id": proxy.id,
            "sequence": ballot.sequence,
            "receipt": receipt_of(ballot.hash),
            "announcement_id": announcement.id,
            "notification_id": notice.id,
            "apartment_id": apartment_id,
            "building_id": building_id,
            "company_id": company_id,
            "district_id": district_id,
            "person_id": person_id,
            "invoice_id": invoice_id,
            "plan_id": plan.id,
            "quarter": "2026-Q2",
            "request_id": request_id,
            "service_request_id": request_id,
            "service_code": category_code,
            "meter_id": meter.id,
            "sensor_id": sensor.id,
            "payment_id": payment.id,
            "photo_id": photo.id,
            "user_id": users["official"].id,
            "tariff_id": session.execute(text("SELECT min(id) FROM tariff")).scalar_one(),
        }
        session.commit()
    print(f"city seeded in {time.perf_counter() - started:.0f} s")
    yield {name: str(value) for name, value in values.items()}
    _wipe(engine)


def _gateway_payments(engine: Engine) -> None:
    """A Payme payment of every fourth apartment yesterday, booked, and Payme's statement of the day
    with one line in 50 of another amount; the day reconciled for every gateway (the lists of
    payments and of differences longer than a page)."""
    yesterday = clock.local_today(TIMEZONE) - timedelta(days=1)
    at = datetime.combine(yesterday, datetime.min.time(), ZoneInfo(TIMEZONE)) + timedelta(hours=12)
    started = time.perf_counter()
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO payment_attempt (apartment_id, gateway, amount_minor, currency, status, idempotency_key, "
                "external_id, failure_message, refunded_minor, provider_time, opened_at, performed_at, created_at, "
                "updated_at) SELECT id, 'payme', 10000000 + id, 'UZS', 'succeeded', 'payme:scale-' || id, "
                "'scale-' || id, '', 0, :at, :at, :at, :at, :at FROM apartment WHERE id % 4 = 0"
            ),
            {"at": at},
        )
        connection.execute(
            text(
                "INSERT INTO ledger_entry (apartment_id, kind, amount_minor, currency, payment_attempt_id, reference, "
                "dedupe_key, occurred_at, created_at) SELECT apartment_id, 'payment', -amount_minor, 'UZS', id, "
                "external_id, 'payment:' || id, performed_at, now() FROM payment_attempt WHERE gateway = 'payme'"
            )
        )
        connection.execute(
            text(
                "INSERT INTO provider_statement_line (gateway, external_id, day, occurred_at, amount_minor, "
                "account_number, state, created_at) SELECT 'payme', p.external_id, :day, p.performed_at, "
                "p.amount_minor + CASE WHEN p.id % 50 = 0 THEN 100 ELSE 0 END, a.account_number, 'performed', now() "
                "FROM payment_attempt p JOIN apartment a ON a.id = p.apartment_id WHERE p.gateway = 'payme'"
            ),
            {"day": yesterday},
        )
    with Session(engine) as session:
        for gateway in Gateway:
            reconcile_day(session, gateway, yesterday, timezone=TIMEZONE, now=datetime.now(UTC))
        session.commit()
    print(f"{APARTMENTS // 4:,} Payme payments reconciled in {time.perf_counter() - started:.1f} s")


def _closed_meeting(session: Session, manager, building_id: int, files: Path, now: datetime):
    """A meeting of the building's owners, closed last month: a document, a paper ballot with its
    scan and a proxy's power of attorney, so that every meeting route has something to show."""
    settings = make_settings("sqlite://", meetings={"document_dir": files})
    clerk, drafted = Actor.of(manager), now - timedelta(days=40)
    starts, ends = drafted + timedelta(days=15), drafted + timedelta(days=22)
    meeting = drafting.draft_meeting(
        session, clerk, building_id=building_id, texts={"en": ("Roof", "")}, voting_starts=starts,
        voting_ends=ends, now=drafted,
    )  # fmt: skip
    question = drafting.add_question(
        session, clerk, meeting, kind=DecisionKind.ordinary, texts={"en": ("Repair it?", "")}, now=drafted
    )
    document = drafting.attach_document(
        session, clerk, meeting, title="Estimate", data=png_bytes(), settings=settings, now=drafted
    )
    publishing.publish_meeting(session, clerk, meeting, settings=settings, now=drafted)
    first, second = reading.roll_of(session, meeting)[:2]
    ballot = voting.enter_paper_ballot(
        session, clerk, meeting, voter_id=first.id, answers={question.id: Choice.yes}, scan=png_bytes(),
        settings=settings, now=starts,
    )  # fmt: skip
    proxy = voting.submit_proxy(
        session, clerk, meeting, voter_id=second.id, proxy_person_id=first.person_id, document=png_bytes(),
        settings=settings, now=starts,
    )  # fmt: skip
    closing.close_meeting(session, meeting, actor=clerk, settings=settings, now=ends)
    return meeting, document, proxy, ballot


def _documented_expense(session: Session, manager, building_id: int, files: Path):
    """An expense of the building with its act, so that every expense route has something to show."""
    settings = make_settings("sqlite://", money={"document_dir": files})
    today = clock.local_today(TIMEZONE)
    expense = record_expense(
        session,
        Actor.of(manager),
        building_id=building_id,
        expense=ExpenseInput(spent_on=today, category="cleaning", amount_minor=150_000_00, supplier="Toza"),
        today=today,
    )
    document = attach_expense_document(
        session, Actor.of(manager), expense_id=expense.id, upload=Upload(png_bytes(), "act.png"),
        settings=settings, today=today,
    )  # fmt: skip
    return expense, document


@pytest.fixture(scope="module")
def scale_client(
    big_city, engine: Engine, database_url: str, photo_dir: Path
) -> Iterator[tuple[TestClient, dict]]:
    settings = make_settings(
        database_url,
        requests={"photo_dir": photo_dir},
        announcements={"attachment_dir": photo_dir},
        meetings={"document_dir": photo_dir},
        money={"document_dir": photo_dir},
    )
    app = create_app(settings, engine=engine)
    with TestClient(app, raise_server_exceptions=False) as client:
        headers = {role: login(client, f"scale-{role}") for role in ROLES}
        yield client, headers


class _Lists(HTMLParser):
    """The longest list of an HTML page (rows of a table body, items of a list) and its next link."""

    CONTAINERS = {"tbody": "tr", "ul": "li", "ol": "li", "select": "option"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[list] = []  # [tag, children]
        self.longest = {"rows": 0, "options": 0}
        self.next_href: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "a" and attributes.get("rel") == "next":
            self.next_href = attributes.get("href")
        for entry in reversed(self.stack):
            if self.CONTAINERS[entry[0]] == tag:
                entry[1] += 1
                break
        if tag in self.CONTAINERS:
            self.stack.append([tag, 0])

    def handle_endtag(self, tag: str) -> None:
        if tag in self.CONTAINERS and self.stack and self.stack[-1][0] == tag:
            kind, count = self.stack.pop()
            key = "options" if kind == "select" else "rows"
            self.longest[key] = max(self.longest[key], count)


def _lists(body: str) -> _Lists:
    parser = _Lists()
    parser.feed(body)
    return parser


def _urls(route: Route, values: dict[str, str]) -> list[str]:
    names = re.findall(r"{(\w+)}", route.path)
    missing = [n for n in names if n not in values and n != "fmt"]
    assert not missing, f"no value for {missing} in {route.path}: add it to big_city"
    formats = ("json", "xml") if "fmt" in names else (None,)
    query = urlencode({name: REQUIRED_QUERY[name] for name in route.required})
    urls = []
    for fmt in formats:
        path = route.path
        for name in names:
            path = path.replace("{" + name + "}", fmt if name == "fmt" else values[name])
        urls.append(path + (f"?{query}" if query else ""))
    return urls


def _get(client: TestClient, url: str, headers: dict[str, str]):
    """GET as a browser (HTML) or an API client (JSON) would, following a redirect to its page."""
    accept = "application/json" if url.startswith("/api") else "text/html"
    started = time.perf_counter()
    response = client.get(url, headers=headers | {"Accept": accept}, follow_redirects=True)
    return response, time.perf_counter() - started


@pytest.mark.postgres
@pytest.mark.skipif(not ON_POSTGRES, reason=SKIP_REASON)
@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.path)
def test_every_page_is_bounded_on_a_city_of_100000_apartments(scale_client, big_city, route, role):
    client, headers = scale_client
    for url in _urls(route, big_city):
        response, seconds = _get(client, url, headers[role])
        if route.path in FORBIDDEN[role]:
            assert response.status_code == 403, f"{role} GET {url}: {response.status_code}, not 403"
            continue
        assert response.status_code == 200, f"{role} GET {url}: {response.status_code} {response.text[:300]}"
        assert seconds < MAX_SECONDS, f"{role} GET {url} took {seconds:.1f} s"
        most = MAX_BYTES_OF.get(route.path, MAX_PAGE_BYTES)
        assert len(response.content) <= most, f"{role} GET {url}: {len(response.content):,} bytes"
        kind = response.headers["content-type"]
        if kind.startswith("text/html"):
            long = route.path in LONG_LISTS[role]
            _check_html_list(client, headers[role], long, str(response.url), response.text)
        elif "json" in kind:
            _check_json_list(client, headers[role], url, response.json())
        elif kind.startswith("text/csv"):
            _check_export(client, headers[role], route.path in LONG_EXPORTS and role != "manager", response)


def _check_html_list(client: TestClient, headers: dict[str, str], long: bool, url: str, body: str) -> None:
    lists = _lists(body)
    assert lists.longest["rows"] <= MAX_ROWS, f"GET {url} lists {lists.longest['rows']} rows"
    assert lists.longest["options"] <= MAX_OPTIONS, f"GET {url} offers {lists.longest['options']} choices"
    if long:
        assert lists.next_href, f"GET {url}: a list longer than a page shows no next link"
    if lists.next_href:
        following = lists.next_href.replace("&amp;", "&")
        assert urlsplit(following).path == urlsplit(url).path, f"{url}: next is {following}"
        response, _ = _get(client, following, headers)
        assert response.status_code == 200, f"GET {following}: {response.status_code}"
        assert len(response.content) <= MAX_PAGE_BYTES
        second = _lists(response.text)
        assert 0 < second.longest["rows"] <= MAX_ROWS, f"GET {following}: {second.longest['rows']} rows"
        assert response.text != body, f"GET {following} shows the first page again"


def _check_export(client: TestClient, headers: dict[str, str], long: bool, response) -> None:
    link = response.headers.get("link")
    assert link or not long, f"GET {response.url}: an export longer than a part names no next part"
    if link:
        following = re.fullmatch(r'<([^>]+)>; rel="next"', link).group(1)
        second, _ = _get(client, following, headers)
        assert second.status_code == 200, f"GET {following}: {second.status_code}"
        assert second.content and second.content != response.content, f"GET {following}: the same part"


def _check_json_list(client: TestClient, headers: dict[str, str], url: str, body) -> None:
    if isinstance(body, list):
        assert len(body) <= MAX_JSON_ARRAY, f"GET {url}: an array of {len(body)}"
        return
    if not (isinstance(body, dict) and isinstance(body.get("items"), list)):
        return
    assert len(body["items"]) <= body["limit"], (
        f"GET {url}: {len(body['items'])} items, limit {body['limit']}"
    )
    if body["total"] > body["offset"] + body["limit"]:
        assert len(body["items"]) == body["limit"]
        following = url + ("&" if "?" in url else "?") + f"offset={body['offset'] + body['limit']}"
        response, _ = _get(client, following, headers)
        assert response.status_code == 200, f"GET {following}: {response.status_code}"
        items = response.json()["items"]
        assert items and json.dumps(items) != json.dumps(body["items"]), f"GET {following}: same page"


def test_the_routes_are_found_and_filled():
    """The walk above sees the app's pages and lists, and knows a value for every path id."""
    paths = {route.path for route in ROUTES}
    assert {"/apartments", "/api/v1/apartments", "/console/buildings/{building_id}", "/city/scores"} <= paths
    assert len(paths) > 60
    names = {name for route in ROUTES for name in re.findall(r"{(\w+)}", route.path)} - {"fmt"}
    known = {
        "apartment_id", "building_id", "company_id", "district_id", "person_id", "invoice_id",
        "request_id", "service_request_id", "service_code", "meter_id", "sensor_id", "payment_id",
        "photo_id", "user_id", "tariff_id", "announcement_id", "notification_id", "meeting_id",
        "document_id", "proxy_id", "sequence", "receipt", "plan_id", "quarter", "expense_id", "expense_document_id",
    }  # fmt: skip
    assert names <= known, f"a new path id: {names - known}; give big_city a value for it"
    listed = (
        set(MAX_BYTES_OF)
        | LONG_EXPORTS
        | {p for table in (LONG_LISTS, FORBIDDEN) for paths in table.values() for p in paths}
    )
    assert listed <= paths, f"no such routes: {listed - paths}"
