"""The company console through plain HTTP: the queue, a request's page and its forms, filing for a
caller, buildings, alerts, debtors with their CSV, and the billing run."""

import csv
import io
import re
from datetime import date, datetime, timedelta
from html import unescape
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import event, update
from sqlmodel import Session, func, select

from billing.models import Invoice
from billing.tariffs.seeding import seed_tashkent_tariffs
from housing.accounts.models import Role
from housing.db import utcnow
from housing.i18n import LANGUAGE_COOKIE
from housing.requests.models import RequestComment, RequestStatus, ServiceRequest
from sensors.models import Alert, AlertKind
from tests.factories.billing import make_billed_invoice, make_ledger_entry
from tests.factories.core import PASSWORD, make_apartment, make_user
from tests.factories.requests import make_category, make_request, move
from tests.factories.sensors import make_meter
from tests.pages import csrf_token, log_in, submit


def _signed_in(client, username: str):
    answer = log_in(client, username, PASSWORD)
    assert answer.status_code == 200, answer.text
    client.cookies.set(LANGUAGE_COOKIE, "en")
    return client


@pytest.fixture
def dispatcher(client, city):
    return _signed_in(client, "dispatcher")


def _text(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def _error(html: str, field: str) -> str:
    found = re.search(rf'id="{field}-error">([^<]*)', html)
    assert found, f"no message next to {field}"
    return found.group(1).strip()


def _queue_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr id="request-(\d+)"', html)]


def _row(html: str, request_id: int) -> str:
    return _text(html.split(f'<tr id="request-{request_id}"', 1)[1].split("</tr>", 1)[0])


def _tashkent_today() -> date:
    return datetime.now(ZoneInfo("Asia/Tashkent")).date()


def _fresh(app) -> Session:
    return Session(app.state.engine)


def _call(session, city, **kw):
    """A request a dispatcher typed in for nobody in particular (no daily limit applies)."""
    fields = {"filed_by_id": city.users["dispatcher"], "requester_person_id": None, "now": utcnow()} | kw
    return make_request(
        session, _user(session, city.users["dispatcher"]), city.neighbour, city.category, **fields
    )


def _user(session, user_id):
    from housing.accounts.models import User

    return session.get(User, user_id)


def test_staff_land_on_the_queue_and_residents_are_kept_out(client, city):
    dispatcher = _signed_in(client, "dispatcher")
    assert dispatcher.get("/").url.path == "/console/requests"
    nav = dispatcher.get("/console/requests").text.split('<nav class="nav"', 1)[1].split("</nav>", 1)[0]
    assert "File for a caller" in nav and "Debtors" in nav and "Billing run" not in nav

    client.cookies.clear()
    resident = _signed_in(client, "resident")
    for url in (
        "/console/requests",
        "/console/buildings",
        "/console/alerts",
        "/console/debtors",
        "/console/billing",
    ):
        assert resident.get(url).status_code == 403, url


def test_the_queue_puts_the_least_time_left_first_and_says_overdue_and_escalated(dispatcher, city, session):
    now = utcnow()
    later = _call(session, city, description="Lamp flickers on floor 3", now=now - timedelta(hours=1))
    overdue = _call(session, city, description="Water on the stairs", now=now - timedelta(days=2))
    escalated = _call(session, city, description="Lift stuck for days", now=now - timedelta(days=5))
    session.execute(
        update(ServiceRequest).where(ServiceRequest.id == escalated.id).values(escalated=True, overdue=True)
    )
    done = _call(session, city, description="Door fixed already", now=now - timedelta(days=9))
    move(session, done, RequestStatus.accepted, RequestStatus.resolved, now=now - timedelta(days=9))
    session.commit()

    page = dispatcher.get("/console/requests")

    ids = _queue_ids(page.text)
    assert ids == [escalated.id, overdue.id, later.id, city.home_request.id]  # done is not open
    assert "Escalated" in _row(page.text, escalated.id) and "Overdue" in _row(page.text, escalated.id)
    assert "Overdue" in _row(page.text, overdue.id) and "Escalated" not in _row(page.text, overdue.id)
    assert "24 hours overdue" in _row(page.text, overdue.id)
    assert "Overdue" not in _row(page.text, later.id) and "hours left" in _row(page.text, later.id)
    assert "4 requests, the least time left first." in _text(page.text)


def test_the_queue_filters_and_pages_with_a_get_form(dispatcher, city, session):
    lift = make_category(session, code="lift", name="Lift out of order")
    other = make_apartment(session, city.building_a, number="3")
    for n in range(26):
        _call(session, city, description=f"Lift stuck, call {n}", category_id=lift.id, apartment_id=other.id)
    session.commit()

    first = dispatcher.get("/console/requests", params={"category": "lift", "status": "new"})
    second = dispatcher.get("/console/requests", params={"category": "lift", "status": "new", "page": 2})
    roofs = dispatcher.get("/console/requests", params={"category": "roof_leak"})
    elsewhere = dispatcher.get("/console/requests", params={"building_id": city.building_b.id})

    assert len(_queue_ids(first.text)) == 25 and len(_queue_ids(second.text)) == 1
    assert (
        "Page 1 of 2" in first.text
        and 'href="/console/requests?status=new&amp;category=lift&amp;page=2"' in first.text
    )
    assert set(_queue_ids(first.text)).isdisjoint(_queue_ids(second.text))
    assert _queue_ids(roofs.text) == [city.home_request.id]
    assert _queue_ids(elsewhere.text) == []
    assert '<option value="lift" selected>' in first.text


def test_another_companys_manager_cannot_open_the_request(client, city, session):
    manager_b = _signed_in(client, "manager_b")

    assert manager_b.get(f"/requests/{city.home_request.id}").status_code == 404
    assert city.home_request.id not in _queue_ids(manager_b.get("/console/requests").text)
    page = manager_b.get("/console/requests")
    sent = manager_b.post(
        f"/requests/{city.home_request.id}/transitions",
        data={"to": "accepted", "csrftoken": csrf_token(page.text)},
    )
    assert sent.status_code == 404


def test_the_dispatcher_accepts_assigns_comments_and_resolves(dispatcher, city, app):
    url = f"/requests/{city.home_request.id}"
    page = dispatcher.get(url)
    assert (
        'value="accepted"' in page.text
        and 'value="rejected"' in page.text
        and 'value="closed"' not in page.text
    )

    accepted = submit(dispatcher, url, f"{url}/transitions", {"to": "accepted"})
    assigned = submit(dispatcher, url, f"{url}/assignment", {"assignee_id": str(city.users["technician"])})
    noted = submit(dispatcher, url, f"{url}/comments", {"body": "Key is with the neighbour"})
    told = submit(dispatcher, url, f"{url}/comments", {"body": "Roofer comes at 10", "for_resident": "1"})
    resolved = submit(dispatcher, url, f"{url}/transitions", {"to": "resolved"})

    assert "The request is accepted." in accepted.text
    assert "The assignment is saved." in assigned.text and "technician" in _text(assigned.text)
    assert "Internal: staff only" in noted.text
    assert "Roofer comes at 10" in told.text
    assert "The request is marked as resolved." in resolved.text
    history = _text(resolved.text.split('id="history"', 1)[1].split("</ol>", 1)[0])
    assert history.index("new") < history.index("accepted") < history.index("resolved")
    assert "dispatcher" in history
    with _fresh(app) as fresh:
        request = fresh.get(ServiceRequest, city.home_request.id)
        assert request.status == RequestStatus.resolved and request.assignee_id == city.users["technician"]
        notes = dict(fresh.exec(select(RequestComment.body, RequestComment.internal)).all())
    assert notes == {"Key is with the neighbour": True, "Roofer comes at 10": False}


def test_rejecting_needs_a_reason_and_deferring_a_later_day(dispatcher, city, app):
    url = f"/requests/{city.home_request.id}"

    no_reason = submit(dispatcher, url, f"{url}/transitions", {"to": "rejected", "reason": ""})
    no_day = submit(dispatcher, url, f"{url}/transitions", {"to": "deferred", "reason": "Parts ordered"})
    past = submit(
        dispatcher,
        url,
        f"{url}/transitions",
        {"to": "deferred", "reason": "Parts ordered", "until": "2020-01-01"},
    )
    someone_else = submit(dispatcher, url, f"{url}/assignment", {"assignee_id": str(city.users["manager_b"])})
    wrong_move = submit(dispatcher, url, f"{url}/transitions", {"to": "closed"})

    assert no_reason.status_code == 422 and _error(no_reason.text, "move-rejected") == "Say why."
    assert (
        'id="move-rejected-reason"' in no_reason.text
        and 'aria-describedby="move-rejected-error"' in no_reason.text
    )
    assert no_day.status_code == 422 and "Choose the day" in _error(no_day.text, "move-deferred")
    assert 'value="Parts ordered"' in no_day.text
    assert past.status_code == 422
    assert someone_else.status_code == 422 and "not on the staff" in _error(someone_else.text, "assignee")
    assert wrong_move.status_code == 422 and "not possible" in _error(wrong_move.text, "move")
    deferred = submit(
        dispatcher,
        url,
        f"{url}/transitions",
        {
            "to": "deferred",
            "reason": "Parts ordered",
            "until": (_tashkent_today() + timedelta(days=3)).isoformat(),
        },
    )
    assert "The request is deferred." in deferred.text and "deferred until" in _text(deferred.text)
    with _fresh(app) as fresh:
        assert fresh.get(ServiceRequest, city.home_request.id).status == RequestStatus.deferred


def test_console_forms_without_their_token_change_nothing(dispatcher, city, app):
    url = f"/requests/{city.home_request.id}"
    refused = [
        dispatcher.post(f"{url}/transitions", data={"to": "accepted"}),
        dispatcher.post(
            f"{url}/assignment", data={"assignee_id": str(city.users["technician"]), "csrftoken": "x"}
        ),
        dispatcher.post("/console/requests", data={"building_id": str(city.building_a.id)}),
    ]

    assert [answer.status_code for answer in refused] == [403, 403, 403]
    with _fresh(app) as fresh:
        request = fresh.get(ServiceRequest, city.home_request.id)
        assert request.status == RequestStatus.new and request.assignee_id is None


def test_a_technician_works_the_request_but_does_not_assign(client, city, app):
    technician = _signed_in(client, "technician")
    url = f"/requests/{city.home_request.id}"

    page = technician.get(url)
    answer = technician.post(
        f"{url}/assignment", data={"assignee_id": "", "csrftoken": csrf_token(page.text)}
    )

    assert page.status_code == 200 and 'id="assignment"' not in page.text
    assert answer.status_code == 403
    with _fresh(app) as fresh:
        assert fresh.get(ServiceRequest, city.home_request.id).assignee_id is None


def test_a_dispatcher_files_for_a_caller_found_by_building_and_apartment(dispatcher, city, app):
    wrong = dispatcher.get(
        "/console/requests/new", params={"building_id": city.building_a.id, "apartment": "404"}
    )
    found = dispatcher.get(
        "/console/requests/new", params={"building_id": city.building_a.id, "apartment": city.home.number}
    )
    elsewhere = dispatcher.get("/console/requests/new", params={"building_id": city.building_b.id})

    assert "There is no apartment with this number" in _error(wrong.text, "apartment")
    assert "Choose one of your company" in _error(elsewhere.text, "building_id")
    assert f'name="caller" value="{city.resident_person_id}"' in found.text
    token = csrf_token(found.text)
    form = {
        "csrftoken": token,
        "building_id": str(city.building_a.id),
        "apartment": city.home.number,
        "category_id": str(city.category.id),
    }
    short = dispatcher.post(
        "/console/requests", data=form | {"description": "wet", "caller": str(city.resident_person_id)}
    )
    stranger = dispatcher.post(
        "/console/requests",
        data=form | {"description": "Water drips in the hall", "caller": str(city.neighbour_person_id)},
    )
    filed = dispatcher.post(
        "/console/requests",
        data=form
        | {
            "description": "Caller says the ceiling drips",
            "caller": str(city.resident_person_id),
            "emergency": "1",
        },
    )

    assert short.status_code == 422 and "at least 5 letters" in _error(short.text, "description")
    assert stranger.status_code == 422 and "Choose one of the people" in _error(stranger.text, "caller")
    assert filed.status_code == 200 and "The request is filed." in filed.text and "Emergency" in filed.text
    with _fresh(app) as fresh:
        made = fresh.exec(
            select(ServiceRequest).where(ServiceRequest.description == "Caller says the ceiling drips")
        ).one()
    assert (
        made.requester_person_id == city.resident_person_id and made.filed_by_id == city.users["dispatcher"]
    )
    assert made.apartment_id == city.home.id and made.emergency
    assert made.deadline_at - made.created_at == timedelta(minutes=30)


def test_buildings_and_their_apartments_are_those_of_the_company(dispatcher, city, session):
    buildings = dispatcher.get("/console/buildings")
    one = dispatcher.get(f"/console/buildings/{city.building_a.id}")
    theirs = dispatcher.get(f"/console/buildings/{city.building_b.id}")

    listed = _text(buildings.text)
    assert city.building_a.address in listed and city.building_b.address not in listed
    assert "1 buildings." in listed
    assert city.home.account_number in one.text and city.neighbour.account_number in one.text
    assert theirs.status_code == 404


def test_open_alerts_of_the_companys_meters(dispatcher, city, session):
    now = utcnow()
    leaking = make_meter(session, apartment=city.home, serial="CW-LEAK")
    silent = make_meter(session, building=city.building_a, serial="HEAT-COMMON")
    far = make_meter(session, apartment=city.far_away, serial="CW-FAR")
    session.add_all(
        [
            Alert(
                meter_id=leaking.id,
                kind=AlertKind.leak,
                opened_at=now - timedelta(hours=5),
                detail="0.02 m3 an hour",
            ),
            Alert(meter_id=silent.id, kind=AlertKind.stale, opened_at=now - timedelta(days=3)),
            Alert(meter_id=far.id, kind=AlertKind.leak, opened_at=now),
            Alert(
                meter_id=leaking.id, kind=AlertKind.stale, opened_at=now - timedelta(days=9), closed_at=now
            ),
        ]
    )
    session.commit()

    page = _text(dispatcher.get("/console/alerts").text)
    leaks = _text(dispatcher.get("/console/alerts", params={"kind": "leak"}).text)

    assert "2 open alerts" in page
    assert page.index("HEAT-COMMON") < page.index("CW-LEAK")  # the oldest first
    assert (
        "No readings from the meter" in page
        and "Water flowing all night" in page
        and "(common meter)" in page
    )
    assert "CW-FAR" not in page
    assert "CW-LEAK" in leaks and "HEAT-COMMON" not in leaks


@pytest.fixture
def debts(session, city):
    """The home owes 300,000 since an October invoice; the neighbour 50,000 since September."""
    make_billed_invoice(session, city.home, 30_000_000, period=date(2026, 10, 1))
    make_billed_invoice(session, city.neighbour, 9_000_000, period=date(2026, 9, 1))
    make_ledger_entry(session, city.neighbour, kind="payment", amount_minor=-4_000_000)
    make_billed_invoice(session, city.far_away, 70_000_000, period=date(2026, 10, 1))  # company B's
    session.commit()


def test_debtors_sorted_by_amount_or_days_and_the_csv_is_the_same_list(dispatcher, city, debts):
    by_amount = dispatcher.get("/console/debtors")
    by_days = dispatcher.get("/console/debtors", params={"sort": "days"})
    exported = dispatcher.get("/console/debtors.csv", params={"sort": "days"})

    table = _text(by_amount.text.split('id="debtors"', 1)[1])
    assert table.index(city.home.account_number) < table.index(city.neighbour.account_number)
    assert city.far_away.account_number not in by_amount.text
    assert "UZS300,000.00" in table and "UZS50,000.00" in table
    days = _text(by_days.text.split('id="debtors"', 1)[1])
    assert days.index(city.neighbour.account_number) < days.index(city.home.account_number)
    september_due = date(2026, 10, 15)
    expected_days = max((_tashkent_today() - september_due).days, 0)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == [
        "Address",
        "Apartment",
        "Personal account",
        "Owed",
        "Currency",
        "Oldest unpaid due date",
        "Days overdue",
    ]
    assert rows[1] == [
        city.building_a.address,
        city.neighbour.number,
        city.neighbour.account_number,
        "50000.00",
        "UZS",
        "2026-10-15",
        str(expected_days),
    ]
    assert [row[2] for row in rows[1:]] == [city.neighbour.account_number, city.home.account_number]


def test_a_manager_may_not_start_a_billing_run(client, city):
    manager = _signed_in(client, "manager")
    assert manager.get("/console/billing").status_code == 403
    assert "Billing run" not in manager.get("/console/requests").text


def test_an_admin_previews_then_issues_a_months_invoices(client, city, db, app):
    seed_tashkent_tariffs(db)
    admin = _signed_in(client, "admin")
    today = _tashkent_today()
    period = f"{today.replace(day=1) - timedelta(days=1):%Y-%m}"
    this_month = f"{today:%Y-%m}"

    unfinished = admin.get("/console/billing", params={"period": this_month})
    preview = admin.get("/console/billing", params={"period": period})

    assert unfinished.status_code == 422 and "has not ended yet" in _error(unfinished.text, "period")
    to_issue = int(re.search(r'id="to-issue">(\d+)<', preview.text).group(1))
    assert to_issue == 3  # every apartment of the city, each with an area to bill the management fee on
    assert re.search(r'id="to-bill">UZS[\d,]+\.\d\d<', preview.text)
    with _fresh(app) as fresh:
        assert fresh.exec(select(func.count()).select_from(Invoice)).one() == 0  # a preview writes nothing
    issued = submit(admin, f"/console/billing?period={period}", "/console/billing", {"period": period})
    assert "The invoices are issued: 3 invoices for the month" in _text(issued.text)
    assert re.search(r'id="to-issue">0<', issued.text)
    with _fresh(app) as fresh:
        assert fresh.exec(select(func.count()).select_from(Invoice)).one() == 3


def _statements(app, client, url: str) -> int:
    statements = []

    def listener(*args):
        statements.append(args[2])

    event.listen(app.state.engine, "before_cursor_execute", listener)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(app.state.engine, "before_cursor_execute", listener)
    return len(statements)


def test_the_queue_and_the_debtors_cost_the_same_queries_for_one_row_or_many(dispatcher, city, session, app):
    queue_one = _statements(app, dispatcher, "/console/requests")
    debtors_one = (make_billed_invoice(session, city.home, 1_000_000), session.commit())
    debtors_one = _statements(app, dispatcher, "/console/debtors")
    technician = _user(session, city.users["technician"])
    for n in range(12):
        apartment = make_apartment(session, city.building_a, number=f"1{n:02d}")
        request = _call(session, city, description=f"Broken window {n}", apartment_id=apartment.id)
        request.assignee_id = technician.id
        make_billed_invoice(session, apartment, 1_000_000 + n)
    make_user(session, Role.technician, company_id=city.company_a.id)
    session.commit()

    queue_many = _statements(app, dispatcher, "/console/requests")
    debtors_many = _statements(app, dispatcher, "/console/debtors")

    assert len(_queue_ids(dispatcher.get("/console/requests").text)) == 13
    assert queue_many == queue_one
    assert debtors_many == debtors_one
